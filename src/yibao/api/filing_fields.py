"""The fields of the personal commitment letter (个人承诺书) a person signs with a filing,
as the channel API and the operators' REST take them (the 2022 notice; docs/away.md,
"Commitment letter")."""

from __future__ import annotations

from pydantic import BaseModel, Field

from yibao.domain.filing import COMMITMENT_VERSION_LEN_MAX, UNSIGNED, Commitment


class CommitmentFields(BaseModel):
    commitment_signed: bool = Field(False, description=(
        "the person signed the personal commitment letter (个人承诺书) with this filing; "
        "required for the types the insured place files on commitment (E-FIL-014)"))
    commitment_version: str = Field("", max_length=COMMITMENT_VERSION_LEN_MAX,
                                    examples=["CL-2022-01"],
                                    description="the letter's version or text id (with a "
                                    "signed letter)")

    def commitment(self) -> Commitment:
        """The letter as the service checks it (when and through which entry: the call's)."""
        if not self.commitment_signed:
            return UNSIGNED if not self.commitment_version else Commitment(
                version=self.commitment_version)
        return Commitment(signed=True, version=self.commitment_version)
