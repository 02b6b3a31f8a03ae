"""Bulk onboarding: a kindergarten's class list (CSV) checked whole and turned into parent
invitations, and the printable sheet of invite cards (:mod:`camera_app.onboarding.sheet`, not
imported here: it loads reportlab). No HTTP here, so a multi-device site can reuse it."""

from camera_app.onboarding.classlist import (
    MAX_BYTES,
    MAX_ROWS,
    ClassList,
    Column,
    Family,
    Problem,
    parse_schedule,
    read_class_list,
    template_csv,
)
from camera_app.onboarding.config import OnboardingConfig
from camera_app.onboarding.importer import ImportRefused, IssuedInvite, import_class_list

__all__ = [
    "MAX_BYTES",
    "MAX_ROWS",
    "ClassList",
    "Column",
    "Family",
    "ImportRefused",
    "IssuedInvite",
    "OnboardingConfig",
    "Problem",
    "import_class_list",
    "parse_schedule",
    "read_class_list",
    "template_csv",
]
