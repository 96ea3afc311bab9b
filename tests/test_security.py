"""Access control in the app: a signed-in user sees only their sponsors, on every page, whatever the link says."""

from __future__ import annotations

import base64
import string

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tiny_portfolio
from apptest_helpers import PAGE_FILES, notices, open_page, visible_text
from apptest_helpers import metrics as metrics_of
from dashboard.access import Scope
from dashboard.db import make_engine
from dashboard.links import KEYS
from dashboard.schema import milestone
from dashboard.settings import DEMO_DATABASE_PATH, Settings
from queries import vendors

AS_OF = tiny_portfolio.AS_OF.isoformat()
ANN, OLGA = tiny_portfolio.ACME_USER, tiny_portfolio.OTHER_USER
# What of each sponsor must never reach the other's user: names, protocol numbers, titles, site names.
ACME_ONLY = (
    "Acme Biotech",
    "T-1",
    "T-2",
    "Tiny oncology study",
    "Tiny cardiology study",
    "Boston General",
    "Denver Health",
)
OTHER_ONLY = ("Other Pharma", "X-9", "Other neurology study", "Uniklinik Köln")


def everything_shown(at) -> str:
    """What the page sends the browser: visible text, tables, and every chart's spec (arrays decoded)."""
    specs = []
    for chart in at.get("plotly_chart"):
        spec = chart.proto.spec
        specs.append(spec)
        # Plotly 7 sends arrays as base64 ("bdata"); text arrays stay plain, but decode to be sure.
        for chunk in spec.split('"bdata":"')[1:]:
            try:
                specs.append(base64.b64decode(chunk.split('"', 1)[0]).decode("latin-1"))
            except ValueError:
                pass
    return visible_text(at) + "\n".join(specs)


def leaked(text: str, forbidden: tuple[str, ...]) -> list[str]:
    return [word for word in forbidden if word in text]


@pytest.mark.parametrize("page", list(PAGE_FILES))
@pytest.mark.parametrize(("user", "own", "others"), [(ANN, "T-1", OTHER_ONLY), (OLGA, "X-9", ACME_ONLY)])
def test_a_signed_in_user_sees_only_their_sponsors_trials(monkeypatch, tiny_url, page, user, own, others):
    at = open_page(monkeypatch, tiny_url, page, user=user, as_of=AS_OF)
    assert not at.exception
    text = everything_shown(at)
    assert leaked(text, others) == []
    if page in ("portfolio", "enrollment"):
        assert own in text, "the user's own trials are shown"


@pytest.mark.parametrize(
    "claims, refusal",
    [
        ({"email_verified": False}, "not verified"),
        ({"email_verified": "false"}, "not verified"),
        ({"email_verified": None, "iss": "https://idp.example"}, "did not say whether your e-mail address is verified"),
    ],
)
def test_an_unverified_email_gets_no_access(monkeypatch, tiny_url, claims, refusal):
    """A provider that lets users type in their e-mail must not give them a granted user's sponsors (issue 22)."""
    at = open_page(monkeypatch, tiny_url, "portfolio", user=tiny_portfolio.ACME_USER, claims=claims, as_of=AS_OF)
    assert not at.exception
    assert any(refusal in e for e in at.error.values)
    assert not at.metric and leaked(everything_shown(at), ACME_ONLY + OTHER_ONLY) == []
    assert [b.label for b in at.button] == ["Sign out"]


def test_a_provider_that_never_sends_email_verified_can_be_trusted_by_name(monkeypatch, tiny_url):
    monkeypatch.setenv(
        "DASHBOARD_OIDC_ISSUERS_WITHOUT_EMAIL_VERIFIED", "https://other.example, https://login.example/tenant/v2.0"
    )
    at = open_page(
        monkeypatch,
        tiny_url,
        "portfolio",
        user=tiny_portfolio.ACME_USER,
        as_of=AS_OF,
        claims={"email_verified": None, "iss": "https://login.example/tenant/v2.0/"},
    )
    assert not at.exception and not at.error
    assert metrics_of(at)["Enrolled"] == "3"


@pytest.mark.parametrize("page", ["portfolio", "enrollment", "sites", "budget", "vendors"])
def test_a_link_to_another_sponsors_trial_says_not_found_like_a_missing_one(monkeypatch, tiny_url, page):
    # Sites are numbered within their trial: X-9's site S1 can only be named together with X-9.
    theirs = open_page(monkeypatch, tiny_url, page, user=ANN, trial="X-9", site="S1", as_of=AS_OF)
    missing = open_page(monkeypatch, tiny_url, page, user=ANN, trial="NOPE-1", site="S1", as_of=AS_OF)
    assert not theirs.exception and not missing.exception
    assert [w.replace("X-9", "?") for w in notices(theirs)] == [w.replace("NOPE-1", "?") for w in notices(missing)]
    assert any("was not found" in w for w in notices(theirs))
    assert leaked(everything_shown(theirs).replace("'X-9'", ""), OTHER_ONLY) == []


def test_the_sponsor_filter_cannot_widen_the_grants(monkeypatch, tiny_url):
    at = open_page(monkeypatch, tiny_url, "portfolio", user=ANN, sponsor="OTHER", as_of=AS_OF)
    assert not at.exception
    text = everything_shown(at)
    assert leaked(text.replace("'OTHER'", ""), OTHER_ONLY) == []
    assert "T-1" in text


def test_a_user_without_a_grant_gets_no_access_and_nothing_else(monkeypatch, tiny_url):
    at = open_page(monkeypatch, tiny_url, "enrollment", user="nobody@acme.example", trial="T-1", as_of=AS_OF)
    assert not at.exception
    assert any("no access" in e for e in at.error.values)
    assert not at.metric and not at.get("plotly_chart") and not at.selectbox, "no filters, tiles or charts"
    text = everything_shown(at)
    assert leaked(text, ACME_ONLY + OTHER_ONLY) == []
    assert [b.label for b in at.button] == ["Sign out"]


def test_a_sign_in_without_an_email_is_refused(monkeypatch, tiny_url):
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", tiny_url)
    at = open_page(monkeypatch, tiny_url, "portfolio", user="not an address")
    assert not at.exception
    assert any("did not give an e-mail address" in e for e in at.error.values)
    assert leaked(everything_shown(at), ACME_ONLY + OTHER_ONLY) == []


@pytest.mark.parametrize("page", ["portfolio", "enrollment", "sites", "budget", "vendors"])
def test_a_page_rendered_for_one_sponsor_then_another_never_shows_the_first_ones_rows(monkeypatch, tiny_url, page):
    # One process, one cache: the second user's run finds the first user's results cached, under a different scope.
    first = open_page(monkeypatch, tiny_url, page, user=ANN, as_of=AS_OF)
    second = open_page(monkeypatch, tiny_url, page, user=OLGA, as_of=AS_OF)
    again = open_page(monkeypatch, tiny_url, page, user=ANN, as_of=AS_OF)
    assert leaked(everything_shown(first), OTHER_ONLY) == []
    assert leaked(everything_shown(second), ACME_ONLY) == []
    assert everything_shown(again) == everything_shown(first), "the first user's page is the same from the cache"


def test_anonymous_mode_refuses_a_database_that_is_not_the_demo(monkeypatch, tiny_url):
    monkeypatch.setenv("DASHBOARD_ALLOW_ANONYMOUS", "false")
    at = open_page(monkeypatch, tiny_url, "portfolio", as_of=AS_OF)
    assert not at.exception
    assert any("DASHBOARD_AUTH_MODE=none" in e and "not the demo database" in e for e in at.error.values)
    assert leaked(everything_shown(at), ACME_ONLY + OTHER_ONLY) == []
    assert not at.metric and not at.selectbox


def test_anonymous_mode_is_allowed_on_the_demo_database_or_when_said_explicitly(monkeypatch, tiny_url):
    assert Settings(database_url=f"sqlite:///{DEMO_DATABASE_PATH}", _env_file=None).is_demo_database()
    assert not Settings(database_url=tiny_url, _env_file=None).is_demo_database()
    assert not Settings(database_url="postgresql+psycopg://u@db/demo", _env_file=None).is_demo_database()
    monkeypatch.setenv("DASHBOARD_ALLOW_ANONYMOUS", "true")
    at = open_page(monkeypatch, tiny_url, "portfolio", as_of=AS_OF)
    assert not at.exception and not at.error
    assert "Demo mode" in visible_text(at)


def test_a_supply_milestone_linked_to_another_trials_milestone_is_not_shown(tmp_path):
    url = f"sqlite:///{tmp_path / 'linked.db'}"
    tiny_portfolio.build(url)
    scope = Scope(sponsor_ids=(1,), as_of=tiny_portfolio.AS_OF, since=tiny_portfolio.AS_OF)
    reader = make_engine(url)
    with reader.connect() as conn:
        before = vendors.supply_links(conn, scope)
    # Bad data: an ACME supply milestone said to precede a milestone of OTHER's trial X-9.
    writer = make_engine(url, read_only=False)
    with writer.begin() as conn:
        x9_milestone = conn.execute(milestone.select().where(milestone.c.trial_id == 3)).mappings().first()
        conn.execute(
            milestone.update()
            .where(milestone.c.trial_id == 1, milestone.c.precedes_milestone_id.is_(None))
            .values(precedes_milestone_id=x9_milestone["milestone_id"], lead_time_days=7)
        )
    writer.dispose()
    with reader.connect() as conn:
        after = vendors.supply_links(conn, scope)
    reader.dispose()
    pd.testing.assert_frame_equal(after, before)


# --- Hostile links ------------------------------------------------------------------------------

HOSTILE = (
    "' OR 1=1 --",
    "X-9",
    "OTHER",
    "S1",
    "1; DROP TABLE trial",
    "<script>alert(1)</script>",
    "**bold** [link](http://evil.example)",
    "../../etc/passwd",
    "%00",
    "\u202eevil",
    "日本語テキスト",
    "🧪" * 50,
    "A" * 5000,
    "9999-12-31",
    "1900-01-01",
    "2026-02-30",
    "-1",
    "",
)
keys = st.sampled_from(KEYS + ("page", "user", "email", "embed", "__proto__"))
values = st.one_of(st.sampled_from(HOSTILE), st.text(alphabet=string.printable + "äö€\u200b", max_size=60))
query_strings = st.dictionaries(keys, st.one_of(values, st.lists(values, min_size=2, max_size=3)), max_size=5)


@pytest.mark.parametrize("page", list(PAGE_FILES))
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(params=query_strings)
def test_a_hostile_link_gives_no_traceback_and_no_other_sponsors_data(monkeypatch, tiny_url, page, params):
    at = open_page(monkeypatch, tiny_url, page, user=ANN, query=params)
    assert not at.exception, at.exception
    text = everything_shown(at)
    # The user's own words may come back in a notice ("Trial 'X-9' was not found"): that is not a leak.
    for value in params.values():
        for one in value if isinstance(value, list) else [value]:
            if one:
                text = text.replace(one, "")
    assert leaked(text, ("Other Pharma", "Other neurology study", "Uniklinik Köln")) == []


def test_html_from_data_is_text_unless_made_as_html_by_the_widgets():
    """Pages build HTML from templates written in the code and values from the data; a value is escaped unless a
    widget made it as HTML, so a page that forgets to escape a name still shows it as text (autoescape)."""
    from dashboard.ui.widgets import cell, chip, joined, markup, render

    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    assert (
        markup("<b>{}</b>", hostile)
        == "<b>&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(2)&gt;</b>"
    )
    assert markup("{} {}", chip("red"), hostile).startswith('<span class="chip red"')
    assert "<script" not in joined("<br>", [hostile, cell(hostile)]) and joined("<br>", ["a", "b"]) == "a<br>b"
    table = render("table.html", headers=[("", hostile)], rows=[[("num", hostile)], [("", chip("green", hostile))]])
    assert (
        "<script" not in table and "<img" not in table and table.count("&lt;script&gt;") == 4
    )  # header, cell, chip title and word
