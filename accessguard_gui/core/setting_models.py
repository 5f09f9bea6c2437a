"""The ``settings`` table (migration 0009): a few named values stored in the database
itself, such as whether it requires operators to sign in (core/operators.py).

A setting lives in the file, not on a workstation: whoever opens the file gets the same
rule. Rows carry a version (a concurrent change is a conflict, not a silent overwrite)
and are audited like every other record, so switching sign-in off leaves a trace.
"""

from __future__ import annotations

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import AUDITED_TYPES, Base


class Setting(Base):
    """One named setting; ``value`` is text ("1"/"0" for a flag)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    @property
    def name(self) -> str:
        """The key, as the audit trail names a record (audit.record_key)."""
        return self.key


AUDITED_TYPES[Setting] = "setting"
