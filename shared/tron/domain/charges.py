"""Zerodha charges as a dated table (NSE rates), rounded as Zerodha's calculator rounds:
STT to the rupee, everything else to paise.

The table starts on 2020-07-01, when the Finance Act 2019's amendments to the Indian Stamp Act made stamp duty
one rate in every state; a date before that is a ValueError naming the segment and the date. A change is a
new row with its effective date, and every row cites its sources ([S1] …, listed above the table). The NSE
transaction rate includes NSE's Investor Protection Fund Trust charge (IPFT) as the notes there say."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import date
from decimal import Decimal
from functools import lru_cache

from tron.domain.models import Side
from tron.domain.money import ZERO, dec, paise, rupees

SEGMENTS = ("equity_intraday", "equity_delivery", "futures", "options")


@dataclass(frozen=True)
class Rates:
    """One segment's charge rates from one date: fractions of the order value unless named otherwise."""

    brokerage_pct: Decimal  # of the order's turnover, capped at brokerage_cap (0 = free)
    brokerage_cap: Decimal
    brokerage_flat: Decimal  # per executed order (options), used when > 0
    stt_buy: Decimal
    stt_sell: Decimal
    transaction: Decimal  # NSE exchange transaction charge incl. IPFT
    sebi_per_crore: Decimal  # SEBI turnover fee, rupees per crore of turnover
    stamp_buy: Decimal
    gst: Decimal  # on brokerage + transaction (+ the SEBI fee when gst_on_sebi)
    gst_on_sebi: bool = True  # SEBI's fees bear GST from 2022-07-18 (before: brokerage + transaction only)


def _r(
    bp: str,
    cap: str,
    flat: str,
    stt_b: str,
    stt_s: str,
    txn: str,
    stamp: str,
    *,
    sebi: str = "10",
    gst_on_sebi: bool = True,
) -> Rates:
    return Rates(
        dec(bp),
        dec(cap),
        dec(flat),
        dec(stt_b),
        dec(stt_s),
        dec(txn),
        dec(sebi),
        dec(stamp),
        dec("0.18"),
        gst_on_sebi,
    )


# Sources, by effective date (each row below names the ones it follows):
#
# [S1] 2020-07-01 stamp duty on the buy side only, one rate in every state: delivery 0.015 %, intraday
#      0.003 %, futures 0.002 %, options 0.003 % of premium. Finance Act 2019, Part I of Chapter IV (Indian
#      Stamp Act amendments) and the Indian Stamp (Collection of Stamp-Duty through Stock Exchanges, Clearing
#      Corporations and Depositories) Rules 2019, in force from 2020-07-01 by the Revenue Department's
#      notification of 2020-03-30 (deferred from 2020-04-01). Zerodha bulletin "Uniform stamp duty applicable
#      from July 1, 2020": https://zerodha.com/marketintel/bulletin/259741/uniform-stamp-duty-applicable-from-july-1-2020
# [S2] Zerodha brokerage: 0.03 % or ₹20 per executed order, whichever is lower, on intraday and futures; ₹20
#      flat per executed options order; 0 on delivery. Revised from 0.01 % or ₹20 in April 2020 (Zerodha's
#      lockdown e-mail, quoted at https://stockquantum.com/how-safe-is-zerodha/ and
#      https://tradingqna.com/t/im-glad-that-zerodha-is-financially-strong-in-a-challenging-environment-but-why-the-change-in-minimum-brokerage/74161),
#      the same on every later charge list ([S3], [S6], [S8], https://zerodha.com/charges).
# [S3] Zerodha's charge list of June 2020 (copy: https://inquisitordev.blogspot.com/2020/06/zerodha-list-of-all-charges-and-taxes.html):
#      NSE transaction 0.00325 % (cash), 0.0019 % (futures), 0.05 % of premium (options); STT 0.025 % on the
#      intraday sell side, 0.1 % on both sides of delivery, 0.01 % on futures sold, 0.05 % on options sold
#      (premium); SEBI ₹5/crore; GST 18 % on brokerage + transaction charges (no GST on the SEBI fee, [S7]).
# [S4] 2020-06-01 to 2021-03-31 the SEBI turnover fee halved, ₹10 → ₹5/crore: SEBI press release PR 24/2020
#      of 2020-04-27 and the SEBI (Payment of Fees) (Amendment) Regulations 2020, SEBI/LAD-NRO/GN/2020/011 of
#      2020-05-08 (https://taxguru.in/sebi/sebi-reduces-broker-turnover-fees-filing-fees-issuers.html).
#      ₹10/crore again from 2021-04-01, as on Zerodha's later charge lists ([S6]).
# [S5] 2021-01-01 NSE transaction charges +6 % on cash and equity derivatives (to augment the NSE IPFT
#      corpus after broker defaults): ₹3.45 / ₹2.00 / ₹53.00 per lakh (cash / futures / options premium), NSE
#      circular NSE/FA/46730 of 2020-12-18, as Zerodha showed them: 0.00345 %, 0.002 %, 0.053 %
#      (https://support.zerodha.com/category/account-opening/charges-at-zerodha/trading-account-charges/articles/what-is-the-brokerage-for-futures-and-options;
#      cash: https://www.garvthakur.com/Broker/Zerodha/Brokerage-8). The increase and its date are restated
#      in NSE's press release of the rollback ([S8]).
# [S6] Zerodha's charge list of 2021-23 (the support article of [S5]): SEBI ₹10/crore; GST 18 % on brokerage
#      + transaction + SEBI charges (the latter from [S7]).
# [S7] 2022-07-18 GST 18 % on SEBI's fees (the GST exemption of SEBI's services withdrawn, notified
#      2022-07-13): BSE notices 20220830-5 and 20221031-4
#      (https://bseindia.com/markets/MarketInfo/DispNewNoticesCirculars.aspx?page=20221031-4), passed on to
#      clients as GST on the SEBI turnover fee
#      (https://forum.5paisa.com/portal/en/kb/articles/why-is-gst-being-levied-on-sebi-charges).
# [S8] 2023-04-01 NSE rolls the 2021 increase back and raises the IPFT contribution from ₹0.01 to ₹10/crore
#      (cash, futures) and ₹50/crore (options premium): NSE circular NSE/FA/56129 and press release of
#      2023-03-24 (https://www.thehindu.com/business/nse-to-roll-back-6-increase-in-transaction-charges/article66657383.ece).
#      Transaction ₹3.25 / ₹1.90 / ₹50.00 per lakh as on Zerodha's charge list of 2023-24: 0.00325 %, 0.0019 %,
#      0.05 % (copy: https://birdif.pics/article/list-of-all-fees-charges-and-taxes-on-trading-and-investing/655);
#      with IPFT: 0.00335 %, 0.002 %, 0.0505 %.
# [S9] 2023-04-01 STT on futures sold 0.01 % → 0.0125 %, on options sold 0.05 % → 0.0625 % of premium:
#      Finance Act 2023 (the Finance Bill as amended on 2023-03-27, assent 2023-03-31;
#      https://www.devdiscourse.com/article/headlines/2423213-cabinet-gives-post-facto-approval-to-amendment-to-finance-bill-2023).
# [S10] 2024-04-01 NSE transaction ₹3.22 / ₹1.88 / ₹49.50 per lakh; with IPFT 0.00332 %, 0.00198 %, 0.05 %.
#      The rates are Zerodha's up to 2024-09-30: Nithin Kamath, "Impact of revision in Exchange Transaction
#      Charges and STT", 2024-10-01 (options "transaction charge decreases to 0.035 % from 0.0495 %"; futures
#      +0.00735 % net = +0.0075 % STT − (0.00188 − 0.00173) %),
#      https://nithinkamath.me/blog/impact-of-revision-in-exchange-transaction-charges-and-stt.
#      UNCONFIRMED: the effective date 2024-04-01 and the circular number (NSE/FA/61137 of 2024-03-14) come
#      from a secondary transcription; NSE's circular itself was not retrieved.
# [S11] 2024-10-01 NSE flat transaction charges ₹2.97 / ₹1.73 / ₹35.03 per lakh (SEBI's "true to label"
#      circular SEBI/HO/MRD/TPD-1/P/CIR/2024/92 of 2024-07-01; NSE circular of 2024-09-27,
#      https://www.ndtvprofit.com/markets/nse-revises-cash-fno-market-fees-october-1); with IPFT 0.00307 %,
#      0.00183 %, 0.03553 %. STT on futures sold 0.02 %, on options sold 0.1 % (Finance (No. 2) Act 2024).
# [S12] 2026-04-01 STT on futures sold 0.05 %, on options sold 0.15 % (Finance Act 2026).
#
# Throughout: GST 18 %; STT 0.025 % on the intraday sell side and 0.1 % on both sides of delivery; stamp
# duty as [S1]. IPFT: included in `transaction` from 2023-04-01 ([S8]); before, ₹0.01/crore, which Zerodha's
# charge list did not show and which is left out (under half a paisa on less than ₹50 lakh of turnover).
# Before 2024-10-01 NSE charged members slab-wise; the rates are the top slab, the one brokers billed.

# segment → [(effective from, rates)], oldest first.
TABLE: dict[str, list[tuple[date, Rates]]] = {
    "equity_intraday": [
        # [S1] stamp 0.003 %, [S2] brokerage, [S3] NSE 0.00325 %, STT 0.025 % sell, [S4] SEBI ₹5, [S7] no GST on it
        (
            date(2020, 7, 1),
            _r("0.0003", "20", "0", "0", "0.00025", "0.0000325", "0.00003", sebi="5", gst_on_sebi=False),
        ),
        # [S5] NSE 0.00345 %
        (
            date(2021, 1, 1),
            _r("0.0003", "20", "0", "0", "0.00025", "0.0000345", "0.00003", sebi="5", gst_on_sebi=False),
        ),
        # [S4] SEBI ₹10/crore again
        (
            date(2021, 4, 1),
            _r("0.0003", "20", "0", "0", "0.00025", "0.0000345", "0.00003", gst_on_sebi=False),
        ),
        # [S7] GST on the SEBI fee
        (date(2022, 7, 18), _r("0.0003", "20", "0", "0", "0.00025", "0.0000345", "0.00003")),
        # [S8] NSE 0.00325 % + IPFT 0.0001 %
        (date(2023, 4, 1), _r("0.0003", "20", "0", "0", "0.00025", "0.0000335", "0.00003")),
        # [S10] NSE 0.00322 % + IPFT 0.0001 % (date unconfirmed, see [S10])
        (date(2024, 4, 1), _r("0.0003", "20", "0", "0", "0.00025", "0.0000332", "0.00003")),
        # [S11] NSE flat 0.00297 % + IPFT 0.0001 %
        (date(2024, 10, 1), _r("0.0003", "20", "0", "0", "0.00025", "0.0000307", "0.00003")),
    ],
    "equity_delivery": [
        # [S1] stamp 0.015 %, [S2] free, [S3] NSE 0.00325 %, STT 0.1 % both sides, [S4] SEBI ₹5, [S7] no GST on it
        (
            date(2020, 7, 1),
            _r("0", "0", "0", "0.001", "0.001", "0.0000325", "0.00015", sebi="5", gst_on_sebi=False),
        ),
        # [S5] NSE 0.00345 %
        (
            date(2021, 1, 1),
            _r("0", "0", "0", "0.001", "0.001", "0.0000345", "0.00015", sebi="5", gst_on_sebi=False),
        ),
        # [S4] SEBI ₹10/crore again
        (date(2021, 4, 1), _r("0", "0", "0", "0.001", "0.001", "0.0000345", "0.00015", gst_on_sebi=False)),
        # [S7] GST on the SEBI fee
        (date(2022, 7, 18), _r("0", "0", "0", "0.001", "0.001", "0.0000345", "0.00015")),
        # [S8] NSE 0.00325 % + IPFT 0.0001 %
        (date(2023, 4, 1), _r("0", "0", "0", "0.001", "0.001", "0.0000335", "0.00015")),
        # [S10] NSE 0.00322 % + IPFT 0.0001 % (date unconfirmed, see [S10])
        (date(2024, 4, 1), _r("0", "0", "0", "0.001", "0.001", "0.0000332", "0.00015")),
        # [S11] NSE flat 0.00297 % + IPFT 0.0001 %
        (date(2024, 10, 1), _r("0", "0", "0", "0.001", "0.001", "0.0000307", "0.00015")),
    ],
    "futures": [
        # [S1] stamp 0.002 %, [S2] brokerage, [S3] NSE 0.0019 %, STT 0.01 % sell, [S4] SEBI ₹5, [S7] no GST on it
        (
            date(2020, 7, 1),
            _r("0.0003", "20", "0", "0", "0.0001", "0.000019", "0.00002", sebi="5", gst_on_sebi=False),
        ),
        # [S5] NSE 0.002 %
        (
            date(2021, 1, 1),
            _r("0.0003", "20", "0", "0", "0.0001", "0.00002", "0.00002", sebi="5", gst_on_sebi=False),
        ),
        # [S4] SEBI ₹10/crore again
        (date(2021, 4, 1), _r("0.0003", "20", "0", "0", "0.0001", "0.00002", "0.00002", gst_on_sebi=False)),
        # [S7] GST on the SEBI fee
        (date(2022, 7, 18), _r("0.0003", "20", "0", "0", "0.0001", "0.00002", "0.00002")),
        # [S9] STT 0.0125 % sell; [S8] NSE 0.0019 % + IPFT 0.0001 % (the same 0.002 % in all)
        (date(2023, 4, 1), _r("0.0003", "20", "0", "0", "0.000125", "0.00002", "0.00002")),
        # [S10] NSE 0.00188 % + IPFT 0.0001 % (date unconfirmed, see [S10])
        (date(2024, 4, 1), _r("0.0003", "20", "0", "0", "0.000125", "0.0000198", "0.00002")),
        # [S11] STT 0.02 % sell; NSE flat 0.00173 % + IPFT 0.0001 %
        (date(2024, 10, 1), _r("0.0003", "20", "0", "0", "0.0002", "0.0000183", "0.00002")),
        # [S12] STT 0.05 % sell
        (date(2026, 4, 1), _r("0.0003", "20", "0", "0", "0.0005", "0.0000183", "0.00002")),
    ],
    "options": [
        # [S1] stamp 0.003 %, [S2] ₹20 flat, [S3] NSE 0.05 %, STT 0.05 % sell, [S4] SEBI ₹5, [S7] no GST on it
        (
            date(2020, 7, 1),
            _r("0", "0", "20", "0", "0.0005", "0.0005", "0.00003", sebi="5", gst_on_sebi=False),
        ),
        # [S5] NSE 0.053 %
        (
            date(2021, 1, 1),
            _r("0", "0", "20", "0", "0.0005", "0.00053", "0.00003", sebi="5", gst_on_sebi=False),
        ),
        # [S4] SEBI ₹10/crore again
        (date(2021, 4, 1), _r("0", "0", "20", "0", "0.0005", "0.00053", "0.00003", gst_on_sebi=False)),
        # [S7] GST on the SEBI fee
        (date(2022, 7, 18), _r("0", "0", "20", "0", "0.0005", "0.00053", "0.00003")),
        # [S9] STT 0.0625 % sell; [S8] NSE 0.05 % + IPFT 0.0005 %
        (date(2023, 4, 1), _r("0", "0", "20", "0", "0.000625", "0.000505", "0.00003")),
        # [S10] NSE 0.0495 % + IPFT 0.0005 % (date unconfirmed, see [S10])
        (date(2024, 4, 1), _r("0", "0", "20", "0", "0.000625", "0.0005", "0.00003")),
        # [S11] STT 0.1 % sell; NSE flat 0.03503 % + IPFT 0.0005 %
        (date(2024, 10, 1), _r("0", "0", "20", "0", "0.001", "0.0003553", "0.00003")),
        # [S12] STT 0.15 % sell
        (date(2026, 4, 1), _r("0", "0", "20", "0", "0.0015", "0.0003553", "0.00003")),
    ],
}


def total_charges(
    segment: str, side: Side, price: Decimal, qty: int, on: date, charged: bool = True
) -> Decimal:
    """One order's charges in total, or nothing when charges are off (a backtest with --charges none: the
    table is never consulted)."""
    return order_charges(segment, side, price, qty, on).total if charged else ZERO


@lru_cache(maxsize=256)  # the table is fixed: a pure lookup, asked for every order
def rates_on(segment: str, on: date) -> Rates:
    """The segment's rates in force on a date (the latest row effective by then); ValueError for an
    unknown segment or a date before the table."""
    if segment not in TABLE:
        raise ValueError(f"unknown segment {segment!r}; allowed: {', '.join(SEGMENTS)}")
    rows = [r for start, r in TABLE[segment] if start <= on]
    if not rows:
        raise ValueError(f"no {segment} charges known before {TABLE[segment][0][0]} (asked for {on})")
    return rows[-1]


@dataclass(frozen=True)
class Charges:
    """The charges of an order or a round trip, component by component, rounded as Zerodha rounds."""

    turnover: Decimal
    brokerage: Decimal
    stt: Decimal
    transaction: Decimal
    sebi: Decimal
    stamp_duty: Decimal
    gst: Decimal

    @property
    def total(self) -> Decimal:
        """Every charge added up (turnover excluded)."""
        return self.brokerage + self.stt + self.transaction + self.sebi + self.stamp_duty + self.gst

    def as_dict(self) -> dict[str, str]:
        """Every component and the total as strings."""
        d = {k: str(v) for k, v in asdict(self).items()}
        d["total"] = str(self.total)
        return d


def _brokerage(r: Rates, turnover: Decimal) -> Decimal:
    if r.brokerage_flat > 0:
        return r.brokerage_flat if turnover > 0 else ZERO
    return min(turnover * r.brokerage_pct, r.brokerage_cap)


def _assemble(r: Rates, buy_value: Decimal, sell_value: Decimal, brokerage: Decimal) -> Charges:
    turnover = buy_value + sell_value
    brokerage = paise(brokerage)
    transaction = paise(turnover * r.transaction)
    sebi = paise(turnover * r.sebi_per_crore / Decimal(10_000_000))
    return Charges(
        turnover=paise(turnover),
        brokerage=brokerage,
        stt=rupees(buy_value * r.stt_buy + sell_value * r.stt_sell),
        transaction=transaction,
        sebi=sebi,
        stamp_duty=paise(buy_value * r.stamp_buy),
        gst=paise((brokerage + transaction + (sebi if r.gst_on_sebi else ZERO)) * r.gst),
    )


AUTO_SQUARE_OFF_FEE = Decimal("59.00")  # Zerodha's ₹50 + 18% GST per order it squares off (ADMINSQF)


@lru_cache(maxsize=4096)
def order_charges(segment: str, side: Side, price: Decimal, qty: int, on: date) -> Charges:
    """Charges of one executed order (what the ledger books per fill). Remembered: a pure function of
    immutable arguments whose every component is rounded to paise or rupees (equal prices written with
    other digits give the same charges), asked again each tick for each open position's exit at its stop."""
    r = rates_on(segment, on)
    value = price * qty
    buy, sell = (value, ZERO) if side is Side.BUY else (ZERO, value)
    return _assemble(r, buy, sell, _brokerage(r, value))


def fill_charges(segment: str, side: Side, orders: Iterable[tuple[int, Decimal]], on: date) -> Charges:
    """Charges of a fill made of several executed orders (an order sent in slices under the freeze
    quantity: each slice is an order, with its own brokerage), each (quantity, price): their sum."""
    each = [order_charges(segment, side, price, qty, on) for qty, price in orders]
    if not each:
        return _assemble(rates_on(segment, on), ZERO, ZERO, ZERO)
    if len(each) == 1:  # the usual fill, one order
        return each[0]
    return Charges(*(sum((getattr(c, f.name) for c in each), ZERO) for f in fields(Charges)))


def trade_charges(segment: str, buy: Decimal, sell: Decimal, qty: int, on: date) -> Charges:
    """Charges of a round trip (a buy order and a sell order of qty), as Zerodha's calculator shows them."""
    r = rates_on(segment, on)
    bv, sv = buy * qty, sell * qty
    return _assemble(r, bv, sv, _brokerage(r, bv) + _brokerage(r, sv))
