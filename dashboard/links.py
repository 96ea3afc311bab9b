"""The view state: what a URL may say about the view, validated, and the one builder of links back to it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from dashboard.metrics import SITE_INDICATORS
from dashboard.schema import PHASES

# Every key the product uses in a query string, in the order links write them.
KEYS = ("sponsor", "trial", "site", "as_of", "since", "phase", "ta", "vendor", "indicator", "page")

# Pages and the path each is served at (st.Page url_path); links name pages by these.
PAGES = {
    "portfolio": "Portfolio",
    "overview": "Trial overview",
    "enrollment": "Enrollment",
    "sites": "Sites",
    "budget": "Budget",
    "vendors": "Vendors",
    "methods": "Methods & definitions",
}

# Keys only some pages read; every other key applies to every page. A link to a page drops the keys it would ignore
# (a site on the Budget page would only confuse whoever reads the link).
PAGE_ONLY_KEYS = {"site": ("sites",), "indicator": ("sites",), "vendor": ("vendors",)}
# The page of a page's long table: said by the address of that page (a copied link opens it), never carried to another.
TABLE_PAGE_KEY = "page"
MAX_TABLE_PAGE = 10_000


def applies(key: str, page: str) -> bool:
    """Whether `page` reads `key` of the view."""
    return key != TABLE_PAGE_KEY and page in PAGE_ONLY_KEYS.get(key, (page,))


# The landing page, served at the root of the app.
DEFAULT_PAGE = "portfolio"

# Site quality indicators a page can be focused on (domain.md §4).
INDICATORS = tuple(SITE_INDICATORS)

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)
COMPARE_DAYS = 7

Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]
AreaName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60, pattern=r"^[\w][\w &/,.()'-]*$")
]
SaneDate = Annotated[date, Field(ge=EARLIEST_DATE, le=LATEST_DATE)]


class ViewState(BaseModel):
    """What the user is looking at, as said by the URL: each field optional, each validated."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sponsor: Code | None = None
    trial: Code | None = None
    site: Code | None = None
    as_of: SaneDate | None = None
    since: SaneDate | None = None
    phase: Annotated[str, Field(pattern="^(" + "|".join(PHASES) + ")$")] | None = None
    ta: AreaName | None = None
    vendor: Code | None = None
    indicator: Annotated[str, Field(pattern="^(" + "|".join(INDICATORS) + ")$")] | None = None
    page: Annotated[int, Field(ge=1, le=MAX_TABLE_PAGE)] | None = None

    def effective_as_of(self, today: date) -> date:
        """The as-of date the view shows: the URL's, else today."""
        return self.as_of or today

    def effective_since(self, today: date) -> date:
        """The date the view compares with: the URL's, else a week before as_of."""
        return self.since or (self.effective_as_of(today) - timedelta(days=COMPARE_DAYS))


_FIELD_ADAPTERS = {name: TypeAdapter(info.annotation) for name, info in ViewState.model_fields.items()}


def _show(value: str, limit: int = 40) -> str:
    """A user-supplied value made safe to quote in a notice (no markdown, bounded length)."""
    shown = "".join(ch if ch.isalnum() or ch in " -_./:" else "?" for ch in value[:limit])
    return shown + ("…" if len(value) > limit else "")


def _reason(key: str) -> str:
    if key in ("as_of", "since"):
        return f"not a date between {EARLIEST_DATE} and {LATEST_DATE} (use YYYY-MM-DD)"
    if key == "phase":
        return "the phase must be one of " + ", ".join(PHASES)
    if key == "page":
        return f"the table page must be a number from 1 to {MAX_TABLE_PAGE:,}"
    if key == "indicator":
        return "the indicator must be a site indicator code such as " + INDICATORS[0] + " (Methods lists them)"
    return "not a valid value"


def parse_view(params: Mapping[str, Any]) -> tuple[ViewState, list[str]]:
    """Validate a query string into a ViewState; returns it and a notice for each value dropped.

    Unknown keys are ignored. A repeated key counts by its last value (as st.query_params does).
    """
    values: dict[str, Any] = {}
    notices: list[str] = []
    for key in KEYS:
        if key not in params:
            continue
        raw = params[key]
        if isinstance(raw, (list, tuple)):
            raw = raw[-1] if raw else ""
        raw = str(raw)
        if raw == "":
            continue
        try:
            values[key] = _FIELD_ADAPTERS[key].validate_python(raw)
        except ValidationError:
            notices.append(f"Ignored {key}={_show(raw)!r} in the link: {_reason(key)}.")
    return ViewState(**values), notices


def to_query(view: ViewState, page: str | None = None, *, table_page: bool = False) -> dict[str, str]:
    """The query parameters that reproduce `view` (on `page`: only the keys it reads, and its table's page only when
    `table_page`), in canonical order, without empty fields."""
    out: dict[str, str] = {}
    for key in KEYS:
        value = getattr(view, key)
        if value is not None and (page is None or applies(key, page) or (table_page and key == TABLE_PAGE_KEY)):
            out[key] = value.isoformat() if isinstance(value, date) else str(value)
    return out


def page_url(page: str, view: ViewState, *, base_url: str = "", table_page: bool = False) -> str:
    """The address of `page` showing `view`: relative ("./…") without a base URL, absolute with one; with the page of
    its long table when `table_page` (the link to the view itself, not to another page)."""
    if page not in PAGES:
        raise ValueError(f"Unknown page {page!r}")
    prefix = base_url.rstrip("/") + "/" if base_url else "./"
    path = "" if page == DEFAULT_PAGE else page
    query = urlencode(to_query(view, page, table_page=table_page))
    return prefix + path + (f"?{query}" if query else "")


def shareable(view: ViewState, today: date) -> ViewState:
    """The view with its dates made explicit, so a shared link shows the same figures next month."""
    return view.model_copy(update={"as_of": view.effective_as_of(today), "since": view.effective_since(today)})


# The longest return token accepted back from a browser cookie (a full view is far shorter).
RETURN_TOKEN_MAX = 600


def return_token(page: str, view: ViewState) -> str:
    """The page and view to come back to after signing in, as one cookie-safe string."""
    if page not in PAGES:
        raise ValueError(f"Unknown page {page!r}")
    return urlencode({"page": page, **to_query(view)})


def parse_return(token: str | None) -> tuple[str, ViewState] | None:
    """The page and view a return token names, validated like any link; None if it names nothing usable."""
    if not token or len(token) > RETURN_TOKEN_MAX:
        return None
    params = parse_qs(token, keep_blank_values=False)
    page = (params.pop("page", None) or [None])[-1]
    if page not in PAGES:
        return None
    view, _ = parse_view(params)
    return page, view
