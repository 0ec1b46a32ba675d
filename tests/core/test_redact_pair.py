"""redact_pair: the door's one walk must give exactly the two copies redact() gives."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from tvdesk.core.alert.redact import REDACTED, redact, redact_pair

SECRET = "Zq8vLm2Np4Rt6Xw0-hand-made-2024"

# Strings built from pieces of the secret, so whole secrets, runs of it and near misses
# all turn up, in values and in keys.
_piece = st.sampled_from([SECRET, SECRET[3:14], SECRET[:7], "24", "buy", "-", " ", "x"])
_text = st.lists(_piece, max_size=4).map("".join)
_scalar = st.one_of(_text, st.integers(), st.none(), st.booleans(), st.just(Decimal("1.5")))
_names = st.one_of(_text, st.sampled_from(["secret", "api_key", "comment", "qty", "token"]))
_obj = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(_names, inner, max_size=4),
    ),
    max_leaves=12,
)


@given(_obj)
def test_redact_pair_is_redact_with_and_without_runs(obj):
    kept, readable = redact_pair(obj, [SECRET, ""])
    assert kept == redact(obj, [SECRET, ""])
    assert readable == redact(obj, [SECRET, ""], runs=False)


def test_the_kept_copy_cuts_runs_and_the_readable_one_keeps_the_number():
    # A hand-made secret's digits in a price: the parser must read the number as sent,
    # while what is kept of the body has the run of the secret cut out.
    secret = "1234567890123456"
    obj = {"secret": secret, "price": "12345678.5", "side": "buy"}
    kept, readable = redact_pair(obj, [secret])
    assert kept == {"price": f"{REDACTED}.5", "side": "buy"}
    assert readable == {"price": "12345678.5", "side": "buy"}


def test_nothing_to_cut_gives_one_copy():
    kept, readable = redact_pair({"symbol": "BTCUSDT", "secret": SECRET}, [SECRET])
    assert kept == {"symbol": "BTCUSDT"}
    assert readable is kept
