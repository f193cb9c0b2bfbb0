"""Money as exact integer micro-units of a currency, and ISO 4217 codes.

Money in cipulse is never a float. A price or a cost is an integer count of *micro-units*
(millionths) of the organisation's currency: $0.006 a minute is 6,000 micro-units, and a sum
of a million costs is the exact sum of integers on any database. It is read from text with
at most six decimals (``parse_money``), and written as text (``money_text``), the read API's
JSON included, so no client parses it into a float by accident. A currency is an ISO 4217
code of three capital letters (``CURRENCIES``: those in use, with funds and precious metals
left out); an organisation has one, USD unless it chooses another."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

#: Micro-units in one unit of a currency: prices and costs are stored as integer micro-units.
MICROS = 1_000_000
#: The decimals a price may have (one micro-unit).
MONEY_DECIMALS = 6
#: The highest accepted price per minute, in units (a billion micro-units).
MAX_PRICE = 1000
DEFAULT_CURRENCY = "USD"

#: ISO 4217 currency codes in use (funds codes, precious metals and test codes left out).
CURRENCIES = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "UYU",
        "UZS",
        "VED",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XCG",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
    ]
)


def parse_money(text: str | int | Decimal) -> int:
    """A price per minute in micro-units, from text such as ``0.006``; raises ValueError
    saying what is wrong (not a number, negative, more than six decimals, too large)."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise ValueError(f"must be a number such as 0.006 (got {str(text)[:40]!r})") from None
    if not value.is_finite():
        raise ValueError("must be a finite number")
    if value < 0:
        raise ValueError("must not be negative")
    if value > MAX_PRICE:
        raise ValueError(f"must be at most {MAX_PRICE} a minute")
    micros = value * MICROS
    if micros != micros.to_integral_value():
        raise ValueError(f"must have at most {MONEY_DECIMALS} decimals")
    return int(micros)


def money(micros: int) -> Decimal:
    """Micro-units as an exact Decimal amount of the currency."""
    return Decimal(micros).scaleb(-MONEY_DECIMALS)


def money_text(micros: int | None) -> str | None:
    """An amount as text, with at least two decimals and no trailing zeros beyond them
    (``6000`` → ``"0.006"``, ``1_500_000`` → ``"1.50"``); None stays None (unknown)."""
    if micros is None:
        return None
    text = f"{money(micros):.{MONEY_DECIMALS}f}"
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.rstrip('0').ljust(2, '0')}"


def currency_problem(code: str) -> str | None:
    """Why ``code`` is not a currency cipulse accepts (None: it is one)."""
    if code in CURRENCIES:
        return None
    return f"must be an ISO 4217 currency code such as USD or EUR (got {code[:20]!r})"
