"""Who may do what on the simulated hardware: roles, and the arguments of operator methods.

Viewers read, the APC also writes (remote setpoints, its heartbeat),
operators also call the ``Simulation`` methods; every method argument is
checked against the method's declared types before the method runs.
"""

from __future__ import annotations

import math

from twin.core.errors import InputError


def method_arguments(method: str, types, values: list) -> list:
    """A method's arguments checked against its declared types: as many as declared, strings
    as strings, finite numbers as floats, booleans as booleans (else one-line InputError)."""
    from asyncua import ua

    if len(values) != len(types):
        raise InputError(f"{method} takes {len(types)} arguments, got {len(values)}")
    out = []
    for i, (vtype, value) in enumerate(zip(types, values), start=1):
        if vtype is ua.VariantType.String and isinstance(value, str):
            out.append(value)
        elif vtype is ua.VariantType.Boolean and isinstance(value, bool):
            out.append(value)
        elif vtype is ua.VariantType.Double and isinstance(value, (int, float)) \
                and not isinstance(value, bool) and math.isfinite(value):
            out.append(float(value))
        else:
            raise InputError(f"{method}: argument {i} is {value!r:.40}; expected "
                             f"{'a finite number' if vtype is ua.VariantType.Double else vtype.name}")
    return out


class RoleRuleset:
    """Who may do what: viewers read, the APC also writes, operators also call methods."""

    def __init__(self, roles: dict[str, str]):
        from asyncua import ua
        from asyncua.crypto.permission_rules import USER_TYPES

        self.roles = roles
        self.write = ua.NodeId(ua.ObjectIds.WriteRequest_Encoding_DefaultBinary)
        self.call = ua.NodeId(ua.ObjectIds.CallRequest_Encoding_DefaultBinary)
        self.allowed = set(map(ua.NodeId, USER_TYPES))

    def check_validity(self, user, action_type_id, body) -> bool:
        role = self.roles.get(getattr(user, "name", None) or "")
        if role is None or action_type_id not in self.allowed:
            return False
        if action_type_id == self.write:
            return role in ("apc", "operator", "engineer")
        if action_type_id == self.call:
            return role in ("operator", "engineer")
        return True
