"""EngineeringUnits of OPC UA (Part 8): UNECE Recommendation 20 codes for our units.

OPC UA identifies a unit by ``UnitId``, the UNECE common code packed into an
integer (each character a byte), in the namespace of UN/CEFACT. Units
without a code here get ``UnitId = -1`` (unknown, as Part 8 allows) and keep
their symbol as the display name.
"""

from __future__ import annotations

CEFACT_NAMESPACE = "http://www.opcfoundation.org/UA/units/un/cefact"

UNECE_CODES = {
    "degC": ("CEL", "degree Celsius"), "K": ("KEL", "kelvin"), "h": ("HUR", "hour"),
    "min": ("MIN", "minute"), "s": ("SEC", "second"), "cm": ("CMT", "centimetre"),
    "m": ("MTR", "metre"), "V": ("VLT", "volt"), "kg/s": ("KGS", "kilogram per second"),
    "-": ("C62", "one"), "mol/L": ("C38", "mole per litre"), "1/h": ("H10", "reciprocal hour"),
    "kmol": ("B45", "kilomole"), "L": ("LTR", "litre"), "kg": ("KGM", "kilogram"),
}
"""Our unit spelling -> (UNECE common code, name)."""


def unit_id(code: str) -> int:
    """The OPC UA UnitId of a UNECE common code (``"CEL"`` -> 4408652)."""
    value = 0
    for ch in code.upper():
        value = (value << 8) | ord(ch)
    return value


def eu_information(unit: str):
    """``ua.EUInformation`` for one of our unit strings."""
    from asyncua import ua

    code, name = UNECE_CODES.get(unit, (None, unit))
    return ua.EUInformation(NamespaceUri=CEFACT_NAMESPACE,
                            UnitId=unit_id(code) if code else -1,
                            DisplayName=ua.LocalizedText(unit or "-"),
                            Description=ua.LocalizedText(name or unit))
