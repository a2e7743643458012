"""Our Stripe form encoding (domain/card_payments.stripe_form) against the `stripe` SDK's
own encoder (a dev dependency kept for exactly this check): the Checkout call is plain
HTTP, so its bracketed names must be the ones Stripe's library would send."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.card_payments import stripe_form


def sdk_encoding(params: dict[str, Any]) -> list[tuple[str, str]]:
    from stripe._encode import _api_encode

    # The SDK lowers a boolean only at the top level of a dict; inside a list it leaves
    # Python's `False`, which Stripe would not read as a boolean. Ours is always `false`.
    return [
        (name, str(value).lower() if isinstance(value, bool) else str(value))
        for name, value in _api_encode(params)
    ]


CHECKOUT = {
    "mode": "payment",
    "payment_method_types": ["card"],
    "line_items": [
        {
            "quantity": 1,
            "price_data": {
                "currency": "gbp",
                "unit_amount": 4000,
                "product_data": {"name": "Session Wednesday 25 Nov 09:00–10:00 with Sam"},
            },
        }
    ],
    "client_reference_id": "t1:c1",
    "metadata": {"trainer_id": "t1", "client_id": "c1", "session_0": "2026-W48.s1"},
    "payment_intent_data": {"metadata": {"session_0": "2026-W48.s1"}},
    "success_url": "https://app.example/pay/x?paid=1",
    "cancel_url": "https://app.example/pay/x",
    "customer_email": None,
}


def test_checkout_params_encode_as_the_sdk_encodes_them() -> None:
    ours = stripe_form(CHECKOUT)
    assert ours == sdk_encoding(CHECKOUT)
    assert (
        "line_items[0][price_data][product_data][name]",
        CHECKOUT["line_items"][0]["price_data"]["product_data"]["name"],
    ) in ours  # type: ignore[index]
    assert all(name != "customer_email" for name, _ in ours)  # None is left out


scalars = st.one_of(st.text(max_size=8), st.integers(), st.booleans())
names = st.text(alphabet="abcdefghij_", min_size=1, max_size=6)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(names, inner, max_size=3)),
    max_leaves=12,
)


@given(st.dictionaries(names, values, max_size=4))
def test_any_nesting_encodes_as_the_sdk_encodes_it(params: dict[str, Any]) -> None:
    assert stripe_form(params) == sdk_encoding(params)
