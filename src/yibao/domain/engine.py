"""The settlement engine: a pure function from policy, person, accumulators and
classified totals to the breakdown of who pays what.

No I/O, no clock. Accumulator keys (per person, insurance type and period) are the
``cum_type_code`` of 5206, at most 10 characters:
- ``D.<stage>``  deductible applied (period: the stage's deductible period)
- ``B.<stage>``  cumulative basis, deductible included (period: the band period)
- ``P.<stage>``  paid by the stage's fund this year (the annual cap is on this)
- ``O.<stage>``  paid by the stage's overflow fund this year
- ``S.<stage>``  stays that had a settlement this year (a count, per-stay deductibles)
- ``N.<stage>``  settlements within the stay (a count, stay period only)
- ``F.<fund>``   paid by a fund this year, all stages together
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from yibao.domain.catalogue import Totals
from yibao.domain.codes import FUND_FIELDS, FUNDS, PersonGroup
from yibao.domain.money import Fen, apply_ratio, fen_to_yuan
from yibao.domain.policy import Band, Basis, Period, Scheme, Stage

COUNT_KEYS = ("S.", "N.")  # accumulators that count, not money


class EngineError(ValueError):
    """The policy cannot settle this case (e.g. no band rule for the hospital level)."""


@dataclass(frozen=True, slots=True)
class SettlementInput:
    scheme: Scheme
    group: PersonGroup
    level: int
    totals: Totals
    year_accums: Mapping[str, Fen]
    stay_accums: Mapping[str, Fen]
    account_balance: Fen
    use_account: bool


@dataclass(frozen=True, slots=True)
class FundLine:
    fund: str
    in_scope: Fen
    cap_room: Fen
    paid: Fen
    proc_info: str

    @property
    def name(self) -> str:
        return FUNDS[self.fund][0]


@dataclass(frozen=True, slots=True)
class Breakdown:
    totals: Totals
    deductible: Fen
    pool_ratio: Decimal  # share the first fund paid of the in-scope amount above the deductible
    funds: tuple[FundLine, ...]
    acct_pay: Fen
    balance_after: Fen
    year_deltas: tuple[tuple[str, Fen], ...]
    stay_deltas: tuple[tuple[str, Fen], ...]

    @property
    def fund_sum(self) -> Fen:
        return sum(f.paid for f in self.funds)

    @property
    def psn_part(self) -> Fen:
        return self.totals.medfee - self.fund_sum

    @property
    def cash(self) -> Fen:
        return self.psn_part - self.acct_pay

    def fund_fields(self) -> dict[str, Fen]:
        """The setlinfo fund fields (hifp_pay, hifob_pay, ...) as sums of fund lines."""
        out = dict.fromkeys(FUND_FIELDS, 0)
        for line in self.funds:
            out[FUNDS[line.fund][1]] += line.paid
        return out


@dataclass(slots=True)
class _Deltas:
    year: Counter[str] = field(default_factory=Counter)
    stay: Counter[str] = field(default_factory=Counter)

    def add(self, period: Period, key: str, amount: Fen) -> None:
        (self.year if period is Period.YEAR else self.stay)[key] += amount


def settle(inp: SettlementInput) -> Breakdown:
    """Compute a settlement; identical inputs always give identical outputs."""
    t = inp.totals
    assert t.medfee == t.fulamt_ownpay + t.overlmt_selfpay + t.preselfpay + t.in_scope
    assert t.in_scope >= 0 and t.medfee >= 0, t
    deltas = _Deltas()
    lines: list[FundLine] = []
    paid_so_far = 0
    first_deductible = 0
    pool_ratio = Decimal(0)
    for index, stage in enumerate(inp.scheme.stages):
        basis = t.in_scope if stage.basis is Basis.IN_SCOPE else t.in_scope - paid_so_far
        stage_lines, deductible = _settle_stage(stage, inp, basis, deltas)
        stage_paid = sum(line.paid for line in stage_lines)
        if index == 0:
            first_deductible = deductible
            pool_ratio = _ratio_of(stage_lines[0].paid, basis - deductible)
        paid_so_far += stage_paid
        lines.extend(stage_lines)
    psn_part = t.medfee - paid_so_far
    acct_pay = 0
    if inp.use_account and inp.scheme.account_allowed:
        acct_pay = max(0, min(inp.account_balance, psn_part))
    result = Breakdown(
        totals=t,
        deductible=first_deductible,
        pool_ratio=pool_ratio,
        funds=tuple(lines),
        acct_pay=acct_pay,
        balance_after=inp.account_balance - acct_pay,
        year_deltas=tuple(sorted((k, v) for k, v in deltas.year.items() if v)),
        stay_deltas=tuple(sorted((k, v) for k, v in deltas.stay.items() if v)),
    )
    assert 0 <= result.fund_sum <= t.in_scope, result
    assert result.cash >= 0 and result.acct_pay >= 0
    return result


def _ratio_of(paid: Fen, amount: Fen) -> Decimal:
    if amount <= 0:
        return Decimal(0)
    return (Decimal(paid) / Decimal(amount)).quantize(Decimal("0.0001"), rounding=ROUND_FLOOR)


def _accum(inp: SettlementInput, period: Period, key: str) -> Fen:
    source = inp.year_accums if period is Period.YEAR else inp.stay_accums
    return source.get(key, 0)


def _deductible_standard(stage: Stage, inp: SettlementInput, deltas: _Deltas) -> Fen:
    rule = stage.deductible_for(inp.group, inp.level)
    if rule is None:
        return 0
    if stage.deductible_period is Period.YEAR:
        return rule.first
    stays = inp.year_accums.get(f"S.{stage.key}", 0)
    new_stay = inp.stay_accums.get(f"N.{stage.key}", 0) == 0
    deltas.stay[f"N.{stage.key}"] += 1
    if new_stay:
        deltas.year[f"S.{stage.key}"] += 1
    earlier_stays = stays if new_stay else stays - 1
    return rule.first if earlier_stays == 0 else rule.later


def _settle_stage(
    stage: Stage, inp: SettlementInput, basis: Fen, deltas: _Deltas
) -> tuple[list[FundLine], Fen]:
    assert basis >= 0, (stage.key, basis)
    bands = stage.bands_for(inp.group, inp.level)
    if bands is None:
        raise EngineError(f"stage {stage.key} has no bands for {inp.group} at level {inp.level}")
    standard = _deductible_standard(stage, inp, deltas)
    used = _accum(inp, stage.deductible_period, f"D.{stage.key}")
    deductible = min(basis, max(0, standard - used))
    start = _accum(inp, stage.band_period, f"B.{stage.key}")
    factor = stage.share_factor_for(inp.group, inp.level)
    segments = _segments(start + deductible, start + basis, bands)
    paid_before = inp.year_accums.get(f"P.{stage.key}", 0)
    room = None if stage.annual_cap is None else max(0, stage.annual_cap - paid_before)
    paid, above_cap, notes = _pay_segments(segments, factor, room)
    lines = [FundLine(stage.fund, basis, room or 0, paid, _proc(standard, deductible, notes))]
    overflow_paid = 0
    if above_cap and stage.overflow is not None:
        overflow_paid = apply_ratio(above_cap, stage.overflow.ratio)
        info = f"超封顶{fen_to_yuan(above_cap)}×{_pct(stage.overflow.ratio)}"
        lines.append(FundLine(stage.overflow.fund, above_cap, 0, overflow_paid, info))
    deltas.add(stage.deductible_period, f"D.{stage.key}", deductible)
    deltas.add(stage.band_period, f"B.{stage.key}", basis)
    deltas.year[f"P.{stage.key}"] += paid
    deltas.year[f"O.{stage.key}"] += overflow_paid
    for line in lines:
        deltas.year[f"F.{line.fund}"] += line.paid
    return lines, deductible


def _segments(start: Fen, end: Fen, bands: tuple[Band, ...]) -> list[tuple[Fen, Decimal]]:
    """Split [start, end) of the cumulative basis into (amount, fund ratio) by band."""
    out: list[tuple[Fen, Decimal]] = []
    low = start
    for band in bands:
        if low >= end:
            break
        high = end if band.upto is None else min(end, band.upto)
        if high > low:
            out.append((high - low, band.ratio))
            low = high
    return out


def _pay_segments(
    segments: list[tuple[Fen, Decimal]], factor: Decimal, room: Fen | None
) -> tuple[Fen, Fen, list[str]]:
    """Pay each band segment at its ratio until the cap room is gone.

    Returns (paid, in-scope amount left above the cap, notes for setl_proc_info).
    """
    paid = above_cap = 0
    notes = []
    for amount, band_ratio in segments:
        ratio = 1 - factor * (1 - band_ratio)
        pay = apply_ratio(amount, ratio)
        if room is not None and pay > room:
            covered = _amount_covered(room, ratio, amount)
            pay = room
            above_cap += amount - covered
            amount = covered
        if room is not None:
            room -= pay
        paid += pay
        notes.append(f"{fen_to_yuan(amount)}×{_pct(ratio)}={fen_to_yuan(pay)}")
    return paid, above_cap, notes


def _amount_covered(room: Fen, ratio: Decimal, amount: Fen) -> Fen:
    """The part of a band segment whose fund share fits in the remaining cap room."""
    if ratio == 0:
        return amount
    return min(amount, int((Decimal(room) / ratio).to_integral_value(rounding=ROUND_FLOOR)))


def _pct(ratio: Decimal) -> str:
    return f"{(ratio * 100).normalize():f}%"


def _proc(standard: Fen, deductible: Fen, notes: list[str]) -> str:
    head = f"起付标准{fen_to_yuan(standard)},本次起付{fen_to_yuan(deductible)}"
    return ";".join([head, *notes])[:500]
