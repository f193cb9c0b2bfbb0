"""Hypothesis strategies shared by the fuzz tests: JSON documents that are a real example with
a few random edits, and values that once reached the database unchecked."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

#: Values that once reached the database unchecked: huge integers, NUL, very long text.
ADVERSARIAL = [2**70, -(2**70), 2**63, -1, 1e308, "\x00", "x" * 3000, "é" * 1001, "", " "]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(ADVERSARIAL),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def mutated(draw: st.DrawFn, example: dict[str, Any]) -> Any:
    """The example with a few random edits at any depth."""
    document = copy.deepcopy(example)
    for _ in range(draw(st.integers(1, 4))):
        target: Any = document
        # Walk down a random path of containers.
        while isinstance(target, (dict, list)) and target and draw(st.booleans()):
            keys = list(target) if isinstance(target, dict) else list(range(len(target)))
            child = target[draw(st.sampled_from(keys))]
            if not isinstance(child, (dict, list)):
                break
            target = child
        if isinstance(target, dict) and target:
            key = draw(st.sampled_from(sorted(target)))
            action = draw(st.sampled_from(["delete", "replace", "add"]))
            if action == "delete":
                del target[key]
            elif action == "replace":
                target[key] = draw(json_values)
            else:
                target[draw(st.text(max_size=8))] = draw(json_values)
        elif isinstance(target, list) and target:
            target[draw(st.integers(0, len(target) - 1))] = draw(json_values)
    return document
