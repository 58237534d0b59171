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

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from yibao.domain.catalogue import Totals
from yibao.domain.codes import FUND_FIELDS, FUNDS, PersonGroup
from yibao.domain.money import Fen, apply_ratio, fen_to_yuan, floor_amount_within, floor_ratio
from yibao.domain.policy import (
    Band,
    Basis,
    DeductibleRule,
    Finance,
    FinanceShare,
    Period,
    Scheme,
    Stage,
)

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
    # a population group's public-finance subsidy (财政补助): what the funds leave of the
    # person's share is paid as a fund line of its own (policy [[group]], docs/fever.md)
    finance: Finance | None = None


class Step(NamedTuple):
    """One band piece: ``amount`` of the basis paid at ``ratio``, giving ``paid``."""

    amount: Fen
    ratio: Decimal
    paid: Fen


class FundLine(NamedTuple):
    fund: str
    in_scope: Fen
    cap_room: Fen
    paid: Fen
    deductible_standard: Fen
    deductible: Fen
    steps: tuple[Step, ...]
    overflow: bool = False  # paid above another fund's annual cap
    finance: bool = False  # public finance paying the person's share (财政补助)

    @property
    def name(self) -> str:
        return FUNDS[self.fund][0]

    @property
    def proc_info(self) -> str:
        """setl_proc_info: the computation in words, rendered only when asked for."""
        parts = [
            f"{fen_to_yuan(s.amount)}×{_pct(s.ratio)}={fen_to_yuan(s.paid)}" for s in self.steps
        ]
        if self.overflow:
            return "超封顶 " + ";".join(parts)
        if self.finance:
            return "财政补助 " + ";".join(parts)
        standard, applied = fen_to_yuan(self.deductible_standard), fen_to_yuan(self.deductible)
        head = f"起付标准{standard},本次起付{applied}"
        return ";".join([head, *parts])[:500]


class Breakdown(NamedTuple):
    totals: Totals
    deductible: Fen
    funds: tuple[FundLine, ...]
    acct_pay: Fen
    balance_after: Fen
    year_deltas: tuple[tuple[str, Fen], ...]
    stay_deltas: tuple[tuple[str, Fen], ...]

    @property
    def pool_ratio(self) -> Decimal:
        """The first fund's share of the in-scope amount above its deductible (4 places)."""
        if not self.funds:
            return Decimal(0)
        first = self.funds[0]
        return floor_ratio(first.paid, first.in_scope - first.deductible)

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


class _Deltas:
    """Accumulator movements of one settlement, per period (insertion-ordered)."""

    __slots__ = ("stay", "year")

    def __init__(self) -> None:
        self.year: dict[str, Fen] = {}
        self.stay: dict[str, Fen] = {}

    def add(self, period: Period, key: str, amount: Fen) -> None:
        if amount:
            target = self.year if period is Period.YEAR else self.stay
            target[key] = target.get(key, 0) + amount


def settle(inp: SettlementInput) -> Breakdown:
    """Compute a settlement; identical inputs always give identical outputs."""
    t = inp.totals
    assert t.medfee == t.fulamt_ownpay + t.overlmt_selfpay + t.preselfpay + t.in_scope
    assert t.in_scope >= 0 and t.medfee >= 0, t
    deltas = _Deltas()
    lines: list[FundLine] = []
    paid_so_far = 0
    for stage in inp.scheme.stages:
        basis = t.in_scope if stage.basis is Basis.IN_SCOPE else t.in_scope - paid_so_far
        stage_lines = _settle_stage(stage, inp, basis, deltas)
        paid_so_far += sum(line.paid for line in stage_lines)
        lines.extend(stage_lines)
    assert 0 <= paid_so_far <= t.in_scope, (lines, t)
    if inp.finance is not None:
        lines.append(_finance_line(inp.finance, t, paid_so_far, deltas))
        paid_so_far += lines[-1].paid
    psn_part = t.medfee - paid_so_far
    acct_pay = 0
    if inp.use_account and inp.scheme.account_allowed:
        acct_pay = max(0, min(inp.account_balance, psn_part))
    result = Breakdown(
        totals=t,
        deductible=lines[0].deductible if lines else 0,
        funds=tuple(lines),
        acct_pay=acct_pay,
        balance_after=inp.account_balance - acct_pay,
        year_deltas=tuple(deltas.year.items()),
        stay_deltas=tuple(deltas.stay.items()),
    )
    assert 0 <= paid_so_far <= t.medfee, result
    assert 0 <= acct_pay <= psn_part or acct_pay == 0, result
    return result


def _finance_line(finance: Finance, t: Totals, paid: Fen, deltas: _Deltas) -> FundLine:
    """Public finance pays what the funds left of the in-scope amount, or of the whole
    bill (``FinanceShare.ALL``): one step at 100 %."""
    basis = t.medfee if finance.share is FinanceShare.ALL else t.in_scope
    amount = basis - paid
    assert amount >= 0, (finance, t, paid)
    deltas.add(Period.YEAR, f"F.{finance.fund}", amount)
    return FundLine(finance.fund, basis, 0, amount, 0, 0, (Step(amount, Decimal(1), amount),),
                    finance=True)


def _accum(inp: SettlementInput, period: Period, key: str) -> Fen:
    source = inp.year_accums if period is Period.YEAR else inp.stay_accums
    return source.get(key, 0)


def _deductible_standard(
    stage: Stage, rule: DeductibleRule | None, inp: SettlementInput, deltas: _Deltas
) -> Fen:
    if rule is None:
        return 0
    if stage.deductible_period is Period.YEAR:
        return rule.first
    keys = stage.keys
    stays = inp.year_accums.get(keys.stays, 0)
    new_stay = inp.stay_accums.get(keys.in_stay, 0) == 0
    deltas.add(Period.STAY, keys.in_stay, 1)
    if new_stay:
        deltas.add(Period.YEAR, keys.stays, 1)
    earlier_stays = stays if new_stay else stays - 1
    return rule.first if earlier_stays == 0 else rule.later


def _settle_stage(
    stage: Stage, inp: SettlementInput, basis: Fen, deltas: _Deltas
) -> list[FundLine]:
    assert basis >= 0, (stage.key, basis)
    rule, bands, factor = stage.rules(inp.group, inp.level)
    if bands is None:
        raise EngineError(f"stage {stage.key} has no bands for {inp.group} at level {inp.level}")
    keys = stage.keys
    standard = _deductible_standard(stage, rule, inp, deltas)
    used = _accum(inp, stage.deductible_period, keys.deductible)
    deductible = min(basis, max(0, standard - used))
    start = _accum(inp, stage.band_period, keys.basis)
    room = None
    if stage.annual_cap is not None:
        room = max(0, stage.annual_cap - inp.year_accums.get(keys.paid, 0))
    steps, above_cap = _pay_segments(start + deductible, start + basis, bands, factor, room)
    paid = sum(step.paid for step in steps)
    lines = [FundLine(stage.fund, basis, room or 0, paid, standard, deductible, steps)]
    overflow_paid = 0
    if above_cap and stage.overflow is not None:
        overflow_paid = apply_ratio(above_cap, stage.overflow.ratio)
        step = Step(above_cap, stage.overflow.ratio, overflow_paid)
        lines.append(
            FundLine(stage.overflow.fund, above_cap, 0, overflow_paid, 0, 0, (step,), True)
        )
    deltas.add(stage.deductible_period, keys.deductible, deductible)
    deltas.add(stage.band_period, keys.basis, basis)
    deltas.add(Period.YEAR, keys.paid, paid)
    deltas.add(Period.YEAR, keys.overflow, overflow_paid)
    deltas.add(Period.YEAR, keys.fund_paid, paid)
    deltas.add(Period.YEAR, keys.overflow_fund_paid, overflow_paid)  # 0 without overflow
    return lines


def _pay_segments(
    start: Fen, end: Fen, bands: tuple[Band, ...], factor: Decimal, room: Fen | None
) -> tuple[tuple[Step, ...], Fen]:
    """Split [start, end) of the cumulative basis by band and pay each piece at its ratio
    until the cap room is gone. Returns the steps and the in-scope amount above the cap."""
    steps = []
    above_cap = 0
    low = start
    for band in bands:
        if low >= end:
            break
        high = end if band.upto is None else min(end, band.upto)
        if high <= low:
            continue
        amount, low = high - low, high
        ratio = band.ratio if factor == 1 else shared_ratio(factor, band.ratio)
        pay = apply_ratio(amount, ratio)
        if room is not None:
            if pay > room:
                covered = _amount_covered(room, ratio, amount)
                above_cap += amount - covered
                amount, pay = covered, room
            room -= pay
        steps.append(Step(amount, ratio, pay))
    return tuple(steps), above_cap


@lru_cache(maxsize=256)
def shared_ratio(factor: Decimal, band_ratio: Decimal) -> Decimal:
    """The fund ratio when the person's share is scaled by ``factor`` (retiree rule)."""
    return 1 - factor * (1 - band_ratio)


def _amount_covered(room: Fen, ratio: Decimal, amount: Fen) -> Fen:
    """The part of a band segment whose fund share fits in the remaining cap room."""
    if ratio == 0:
        return amount
    return min(amount, floor_amount_within(room, ratio))


def _pct(ratio: Decimal) -> str:
    return f"{(ratio * 100).normalize():f}%"
