"""Reading a kindergarten's class list: the CSV of families to invite as parents, checked whole.

The columns (headers in English or Chinese, any order, case and spaces ignored):

========== ========== ======== ===========================================================
English    中文        needed   what
========== ========== ======== ===========================================================
family     家庭        no       a label for the printed card (e.g. "王小明家"); never stored
username   用户名      yes      the parent's login: 1-64 of A-Z a-z 0-9 _ . @ -
rooms      教室        yes      one or more rooms of the device's cameras, separated by ; or 、
schedule   观看时段    yes      a named school schedule (``onboarding.schedules``) or windows
                                like ``mon-fri 08:00-17:00`` / ``周一至周五 08:00-17:00``,
                                several separated by ;
expires_on 截止日期    yes      last day of access: 2027-01-31, 2027/1/31 or 2027年1月31日
language   语言        no       the card's language: zh-CN or en (default: the importer's)
========== ========== ======== ===========================================================

Any other column is refused, and so is a value under a blank header, so that a phone number or
an ID number in the school's spreadsheet never reaches the device by accident. Excel saves CSV
in the system's code page (GB18030/GBK on Chinese Windows) unless told "CSV UTF-8": both UTF-8
(with or without a BOM) and GB18030 are read; anything else is refused with a message saying
how to save the file.

Every row is checked before anything is made and every problem is reported with its line and
column; an import with a single problem makes nothing. Pure logic: no HTTP and no database (the
caller says which usernames are taken), so a multi-device site can reuse it as it is.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import ValidationError

from privacy.gates.schedule import DAYS, Day, Schedule, Window

MAX_BYTES = 48 * 1024
MAX_ROWS = 200
MAX_LABEL = 40
MAX_ROOMS = 8

Lang = Literal["en", "zh"]


class Column(StrEnum):
    """The columns a class list may have, in the template's order."""

    FAMILY = "family"
    USERNAME = "username"
    ROOMS = "rooms"
    SCHEDULE = "schedule"
    EXPIRES_ON = "expires_on"
    LANGUAGE = "language"


REQUIRED = (Column.USERNAME, Column.ROOMS, Column.SCHEDULE, Column.EXPIRES_ON)
#: The template's headers per language.
HEADERS: dict[Lang, dict[Column, str]] = {
    "en": {c: c.value for c in Column},
    "zh": {
        Column.FAMILY: "家庭",
        Column.USERNAME: "用户名",
        Column.ROOMS: "教室",
        Column.SCHEDULE: "观看时段",
        Column.EXPIRES_ON: "截止日期",
        Column.LANGUAGE: "语言",
    },
}
_ALIASES: dict[str, Column] = {
    **{name: c for names in HEADERS.values() for c, name in names.items()},
    "family name": Column.FAMILY,
    "user name": Column.USERNAME,
    "room": Column.ROOMS,
    "班级": Column.ROOMS,
    "expires on": Column.EXPIRES_ON,
    "时段": Column.SCHEDULE,
}

# (English, Chinese) message templates per problem code; {placeholders} from Problem.params.
MESSAGES: dict[str, tuple[str, str]] = {
    "too_big": (
        "the file is larger than {limit} KB; split the class list into several files",
        "文件超过 {limit} KB，请把名单拆成几个文件",
    ),
    "utf16": (
        "the file is saved as 'Unicode text' (UTF-16); in Excel choose Save As > 'CSV UTF-8 "
        "(comma delimited)'",
        "文件是“Unicode 文本”（UTF-16）格式；请在 Excel 中选择“另存为 > CSV UTF-8（逗号分隔）”",
    ),
    "encoding": (
        "the file is neither UTF-8 nor GB18030/GBK text; in Excel choose Save As > 'CSV UTF-8 "
        "(comma delimited)'",
        "文件既不是 UTF-8 也不是 GB18030/GBK 文本；"
        "请在 Excel 中选择“另存为 > CSV UTF-8（逗号分隔）”",
    ),
    "not_csv": (
        "the file could not be read as CSV: {detail}",
        "无法按 CSV 读取文件：{detail}",
    ),
    "empty": ("the file is empty; start from the template", "文件是空的，请从模板开始填写"),
    "no_rows": ("the file has headers but no family", "文件只有表头，没有家庭"),
    "too_many_rows": (
        "the file has {count} families; at most {limit} per file",
        "文件有 {count} 个家庭，每个文件最多 {limit} 个",
    ),
    "unknown_column": (
        "column '{header}' is not one the import reads; remove it (the device keeps only what "
        "an invitation needs: no phone or ID numbers)",
        "不认识“{header}”这一列，请删除（设备只保存邀请所需的信息，不保存电话或证件号码）",
    ),
    "duplicate_column": (
        "column '{header}' appears twice",
        "“{header}”这一列出现了两次",
    ),
    "missing_column": (
        "the column {column} is missing (headers: {headers})",
        "缺少“{column}”这一列（表头：{headers}）",
    ),
    "extra_cells": (
        "this row has a value in column {letter}, which has no header; remove it",
        "这一行的 {letter} 列有内容，但该列没有表头，请删除",
    ),
    "required": ("empty; it is needed", "为空，此项必填"),
    "bad_username": (
        "'{value}' is not a username: use 1-64 of A-Z a-z 0-9 _ . @ -",
        "“{value}”不能作为用户名：请使用 1-64 个字母、数字或 _ . @ -",
    ),
    "duplicate_username": (
        "'{value}' is also on line {other}",
        "“{value}”在第 {other} 行也出现了",
    ),
    "username_taken": (
        "'{value}' is already used on this device",
        "“{value}”在本设备上已被使用",
    ),
    "unknown_room": (
        "no camera is in room '{value}' (rooms: {rooms})",
        "没有摄像头在“{value}”教室（教室：{rooms}）",
    ),
    "too_many_rooms": ("at most {limit} rooms", "最多 {limit} 个教室"),
    "bad_schedule": (
        "'{value}' is not a schedule: {detail}",
        "“{value}”不是有效的观看时段：{detail}",
    ),
    "bad_date": (
        "'{value}' is not a date; write 2027-01-31",
        "“{value}”不是日期，请写成 2027-01-31",
    ),
    "date_passed": ("{value} has passed", "{value} 已经过去"),
    "bad_language": (
        "'{value}' is not a language; write zh-CN or en",
        "“{value}”不是语言，请写 zh-CN 或 en",
    ),
    "label_too_long": (
        "at most {limit} characters",
        "最多 {limit} 个字符",
    ),
    "label_has_number": (
        "looks like a phone or ID number; the label is printed on the card, so leave such "
        "numbers out",
        "看起来含有电话或证件号码；此标签会印在卡片上，请不要填写这类号码",
    ),
}

# The schedule grammar's details, for bad_schedule: (English, Chinese)
_SCHEDULE_DETAILS: dict[str, tuple[str, str]] = {
    "form": (
        "write weekdays and hours such as 'mon-fri 08:00-17:00' (several separated by ;), or "
        "one of the school's schedules: {names}",
        "请写成“周一至周五 08:00-17:00”这样的星期和时间（多个用 ; 分隔），"
        "或幼儿园的时段名称：{names}",
    ),
    "day": ("'{day}' is not a weekday", "“{day}”不是星期几"),
    "window": ("{problem}", "{problem}"),
}


@dataclass(frozen=True, slots=True)
class Bilingual:
    """A detail inside a problem's message, in both languages."""

    en: str
    zh: str


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the file: where (``line`` 0 = the file as a whole, 1 = the headers;
    ``column`` None = the whole line) and what (``code``, a key of :data:`MESSAGES`)."""

    line: int
    column: Column | None
    code: str
    params: Mapping[str, object] = field(default_factory=dict)
    header: str | None = None  # the column's header as written in the file
    letter: str | None = None  # the spreadsheet's column letter (A, B, ...)

    def message(self, lang: str) -> str:
        en, zh = MESSAGES[self.code]
        params = {
            key: (value.zh if lang == "zh" else value.en) if isinstance(value, Bilingual) else value
            for key, value in self.params.items()
        }
        return (zh if lang == "zh" else en).format(**params)

    def to_json(self, lang: str) -> dict[str, object]:
        return {
            "line": self.line,
            "column": self.column.value if self.column else None,
            "header": self.header,
            "letter": self.letter,
            "code": self.code,
            "message": self.message(lang),
        }


@dataclass(frozen=True, slots=True)
class Family:
    """One valid row: what the invitation grants and what its printed card says."""

    line: int
    label: str | None
    username: str | None  # None only where usernames are optional (a site: parents pick one)
    rooms: tuple[str, ...]
    schedule: Schedule
    schedule_name: str | None  # the school's name for it, when the row named one
    expires_on: date
    lang: Lang

    def to_json(self) -> dict[str, object]:
        return {
            "line": self.line,
            "family": self.label,
            "username": self.username,
            "rooms": list(self.rooms),
            "schedule": self.schedule.model_dump(),
            "schedule_name": self.schedule_name,
            "expires_on": self.expires_on.isoformat(),
            "language": "zh-CN" if self.lang == "zh" else "en",
        }


@dataclass(frozen=True, slots=True)
class ClassList:
    """What a file holds: the families of every valid row and the problems; importable only
    when there are families and no problems."""

    encoding: str | None
    families: tuple[Family, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return bool(self.families) and not self.problems

    def to_json(self, lang: str) -> dict[str, object]:
        """The preview both import pages show (the device's and the site's): every family with
        its schedule in words, and every problem in ``lang``."""
        key: Lang = "zh" if lang == "zh" else "en"
        return {
            "ok": self.ok,
            "encoding": self.encoding,
            "families": [
                {**f.to_json(), "schedule_text": f.schedule.describe(key)} for f in self.families
            ],
            "problems": [p.to_json(key) for p in self.problems],
        }


def template_csv(lang: str) -> bytes:
    """The template in ``lang``: headers and two example rows, UTF-8 with a BOM (without it,
    Excel on Chinese Windows would open it as GBK and garble the Chinese)."""
    key: Lang = "zh" if lang == "zh" else "en"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS[key].values())
    if key == "zh":
        writer.writerow(
            ["王小明家", "wang.xm", "向日葵", "周一至周五 08:00-17:00", "2027-07-15", "zh-CN"]
        )
        writer.writerow(
            ["Emma's family", "emma.p", "向日葵", "周一、周三 14:00-16:30", "2027-07-15", "en"]
        )
    else:
        writer.writerow(
            ["Emma's family", "emma.p", "Sunflower", "mon-fri 08:00-17:00", "2027-07-15", "en"]
        )
        writer.writerow(
            ["王小明家", "wang.xm", "Sunflower", "mon,wed 14:00-16:30", "2027-07-15", "zh-CN"]
        )
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def read_class_list(
    data: bytes,
    *,
    rooms: Collection[str],
    schedules: Mapping[str, Schedule],
    taken: Callable[[str], bool],
    today: date,
    default_lang: str,
    username_required: bool = True,
) -> ClassList:
    """Check the class list ``data`` (the file's bytes) whole.

    ``rooms``: the rooms a parent may be invited to (those of the device's kindergarten
    cameras); ``schedules``: the school's named schedules; ``taken(username)``: whether a
    username is in use already; ``today``: the device's local date (an end date before it is
    refused); ``default_lang``: the card's language where a row names none;
    ``username_required``: False where each parent picks a username when joining (a site), so
    the column may be left out or a cell left empty.
    """
    required = REQUIRED if username_required else tuple(c for c in REQUIRED if c != Column.USERNAME)
    if len(data) > MAX_BYTES:
        return _refused(Problem(0, None, "too_big", {"limit": MAX_BYTES // 1024}))
    try:
        text, encoding = _decode(data)
    except _Undecodable as err:
        return _refused(Problem(0, None, err.code))
    try:
        rows = _rows(text)
    except csv.Error as err:
        return ClassList(encoding, (), (Problem(0, None, "not_csv", {"detail": str(err)}),))
    if not rows:
        return ClassList(encoding, (), (Problem(0, None, "empty"),))
    header_line, headers = rows[0]
    columns, problems = _columns(header_line, headers, required)
    if problems:
        return ClassList(encoding, (), tuple(problems))
    body = rows[1:]
    if not body:
        return ClassList(encoding, (), (Problem(0, None, "no_rows"),))
    if len(body) > MAX_ROWS:
        params = {"count": len(body), "limit": MAX_ROWS}
        return ClassList(encoding, (), (Problem(0, None, "too_many_rows", params),))
    checker = _RowChecker(columns, headers, required, rooms, schedules, taken, today, default_lang)
    families = []
    for line, cells in body:
        family = checker.check(line, cells)
        if family is not None:
            families.append(family)
    return ClassList(encoding, tuple(families), tuple(checker.problems))


def _refused(problem: Problem) -> ClassList:
    return ClassList(None, (), (problem,))


class _Undecodable(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


_GB18030_BOM = b"\x84\x31\x95\x33"


def _decode(data: bytes) -> tuple[str, str]:
    """The text of ``data`` and its encoding: UTF-8 (a BOM is dropped) or else GB18030."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in data:
        raise _Undecodable("utf16")
    try:
        if data.startswith(codecs.BOM_UTF8):
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.removeprefix(_GB18030_BOM).decode("gb18030")
    except UnicodeDecodeError:
        raise _Undecodable("encoding") from None
    # Bytes of another double-byte code page (Big5, Shift-JIS) often decode as GB18030 too; the
    # ones that land in the private use areas or on control characters give them away.
    if any(unicodedata.category(ch) in ("Co", "Cc") and ch not in "\t\r\n" for ch in text):
        raise _Undecodable("encoding")
    return text, "gb18030"


def _rows(text: str) -> list[tuple[int, list[str]]]:
    """The non-blank rows of ``text`` with the line each starts on. The delimiter is the comma,
    or the semicolon or tab when the header line has one of those and no comma (Excel in some
    locales)."""
    first = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first:
        delimiter = next((d for d in (";", "\t") if d in first), ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows = []
    line = 1
    for cells in reader:
        if any(cell.strip() for cell in cells):  # Excel leaves rows of empty cells behind
            rows.append((line, cells))
        line = reader.line_num + 1
    return rows


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _normal(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").replace("_", " ").split()).lower()


def _columns(
    line: int, headers: list[str], required: tuple[Column, ...]
) -> tuple[dict[Column, int], list[Problem]]:
    columns: dict[Column, int] = {}
    problems = []
    for index, header in enumerate(headers):
        name = _normal(header)
        if not name:
            continue
        column = _ALIASES.get(name) or _ALIASES.get(name.replace(" ", "_"))
        where = {"header": header.strip(), "letter": _letter(index)}
        if column is None:
            problems.append(Problem(line, None, "unknown_column", where, **where))
        elif column in columns:
            problems.append(Problem(line, column, "duplicate_column", where, **where))
        else:
            columns[column] = index
    present = ", ".join(h.strip() for h in headers if h.strip())
    for column in required:
        if column not in columns:
            problems.append(
                Problem(line, column, "missing_column", {"column": column, "headers": present})
            )
    return columns, problems


_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_LIST_SEP = re.compile(r"\s*[;；、]\s*")
_WINDOW_SEP = re.compile(r"\s*[;；\n]\s*")
_TIME = r"(\d{1,2})\s*[:：]\s*(\d{2})"
_WINDOW = re.compile(rf"^(?P<days>.*?)\s*{_TIME}\s*(?:-|–|—|~|～|至|到)\s*{_TIME}$")
_RANGE = re.compile(r"\s*(?:-|–|—|~|～|至|到)\s*")
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_LONG_NUMBER = re.compile(r"\d[\d\s-]{6,}\d")  # 8+ digits: a phone or an ID number
_LANGS: dict[str, Lang] = {
    "en": "en",
    "english": "en",
    "英文": "en",
    "英语": "en",
    "zh": "zh",
    "zh-cn": "zh",
    "zh_cn": "zh",
    "zh-hans": "zh",
    "chinese": "zh",
    "中文": "zh",
    "简体中文": "zh",
}
_DAY_NAMES: dict[str, Day] = {}
for _i, _day in enumerate(DAYS):
    _en = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")[_i]
    _zh = "一二三四五六日"[_i]
    for _name in (_day, _en, _en[:4], f"周{_zh}", f"星期{_zh}", f"礼拜{_zh}"):
        _DAY_NAMES[_name] = _day
for _name in ("周天", "星期天", "礼拜天"):
    _DAY_NAMES[_name] = "sun"
_DAY_GROUPS: dict[str, tuple[Day, ...]] = {
    "weekdays": DAYS[:5],
    "工作日": DAYS[:5],
    "daily": DAYS,
    "every day": DAYS,
    "每天": DAYS,
    "每日": DAYS,
}


class _ScheduleError(ValueError):
    def __init__(self, detail: str, **params: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.params = params


def parse_schedule(text: str, named: Mapping[str, Schedule]) -> tuple[Schedule, str | None]:
    """The schedule a class list's cell names: one of the school's ``named`` schedules (case
    does not matter; returned with its name) or windows such as ``mon-fri 08:00-17:00;
    sat 09:00-12:00`` or ``周一至周五 08:00-17:00``. Raises :class:`ValueError` saying why not."""
    wanted = text.strip().casefold()
    for name, schedule in named.items():
        if name.casefold() == wanted:
            return schedule, name
    windows = []
    for part in _WINDOW_SEP.split(text.strip()):
        match = _WINDOW.match(part)
        if match is None:
            raise _ScheduleError("form", names=", ".join(named) or "-")
        days = _days(match["days"])
        start = f"{int(match[2]):02d}:{match[3]}"
        end = f"{int(match[4]):02d}:{match[5]}"
        try:
            windows.append(Window(days=list(days), start=start, end=end))
        except ValidationError as err:
            problem = err.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
            raise _ScheduleError("window", problem=problem) from None
    try:
        return Schedule(windows=windows), None
    except ValidationError as err:
        problem = err.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        raise _ScheduleError("window", problem=problem) from None


def _days(text: str) -> list[Day]:
    text = text.strip().casefold()
    if not text:
        raise _ScheduleError("form", names="-")
    if text in _DAY_GROUPS:
        return list(_DAY_GROUPS[text])
    days: list[Day] = []
    for item in re.split(r"\s*[,，、/\s]\s*", text):
        if not item:
            continue
        ends = _RANGE.split(item)
        if len(ends) > 2 or any(end not in _DAY_NAMES for end in ends):
            bad = next((end for end in ends if end not in _DAY_NAMES), item)
            raise _ScheduleError("day", day=bad)
        first, last = DAYS.index(_DAY_NAMES[ends[0]]), DAYS.index(_DAY_NAMES[ends[-1]])
        span = range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
        days.extend(DAYS[i] for i in span if DAYS[i] not in days)
    return days


class _RowChecker:
    """Checks rows one by one, collecting problems and the usernames seen so far."""

    def __init__(
        self,
        columns: dict[Column, int],
        headers: list[str],
        required: tuple[Column, ...],
        rooms: Collection[str],
        schedules: Mapping[str, Schedule],
        taken: Callable[[str], bool],
        today: date,
        default_lang: str,
    ) -> None:
        self.columns = columns
        self.headers = headers
        self.required = required
        self.rooms = {room.casefold(): room for room in rooms}
        self.schedules = schedules
        self.taken = taken
        self.today = today
        self.default_lang: Lang = "zh" if default_lang == "zh" else "en"
        self.seen: dict[str, int] = {}
        self.problems: list[Problem] = []

    def problem(self, line: int, column: Column | None, code: str, **params: object) -> None:
        index = self.columns.get(column) if column else None
        header = self.headers[index].strip() if index is not None else None
        letter = _letter(index) if index is not None else None
        self.problems.append(Problem(line, column, code, params, header, letter))

    def check(self, line: int, cells: list[str]) -> Family | None:
        before = len(self.problems)
        read = set(self.columns.values())
        stray = next((i for i, c in enumerate(cells) if c.strip() and i not in read), None)
        if stray is not None:  # never kept: it could be anything, a phone number too
            self.problem(line, None, "extra_cells", letter=_letter(stray))

        def cell(column: Column) -> str:
            index = self.columns.get(column)
            value = cells[index].strip() if index is not None and index < len(cells) else ""
            if not value and column in self.required:
                self.problem(line, column, "required")
            return value

        label = self._label(line, cell(Column.FAMILY))
        username = self._username(line, cell(Column.USERNAME))
        rooms = self._rooms(line, cell(Column.ROOMS))
        schedule = self._schedule(line, cell(Column.SCHEDULE))
        expires_on = self._date(line, cell(Column.EXPIRES_ON))
        lang = self._lang(line, cell(Column.LANGUAGE))
        if len(self.problems) > before:
            return None
        assert rooms and schedule and expires_on and lang
        return Family(line, label, username, rooms, *schedule, expires_on, lang)

    def _label(self, line: int, value: str) -> str | None:
        if len(value) > MAX_LABEL:
            self.problem(line, Column.FAMILY, "label_too_long", limit=MAX_LABEL)
        elif _LONG_NUMBER.search(value):
            self.problem(line, Column.FAMILY, "label_has_number")
        return value or None

    def _username(self, line: int, value: str) -> str | None:
        if not value:
            return None
        if not _USERNAME.match(value):
            self.problem(line, Column.USERNAME, "bad_username", value=value[:64])
            return None
        folded = value.casefold()
        if folded in self.seen:
            self.problem(
                line, Column.USERNAME, "duplicate_username", value=value, other=self.seen[folded]
            )
            return None
        self.seen[folded] = line
        if self.taken(value):
            self.problem(line, Column.USERNAME, "username_taken", value=value)
            return None
        return value

    def _rooms(self, line: int, value: str) -> tuple[str, ...] | None:
        if not value:
            return None
        names = [n for n in _LIST_SEP.split(value) if n]
        if len(names) > MAX_ROOMS:
            self.problem(line, Column.ROOMS, "too_many_rooms", limit=MAX_ROOMS)
            return None
        found = []
        for name in names:
            room = self.rooms.get(name.casefold())
            if room is None:
                known = ", ".join(sorted(self.rooms.values())) or "-"
                self.problem(line, Column.ROOMS, "unknown_room", value=name[:64], rooms=known)
                return None
            if room not in found:
                found.append(room)
        return tuple(found)

    def _schedule(self, line: int, value: str) -> tuple[Schedule, str | None] | None:
        if not value:
            return None
        try:
            return parse_schedule(value, self.schedules)
        except _ScheduleError as err:
            en, zh = _SCHEDULE_DETAILS[err.detail]
            self.problem(
                line,
                Column.SCHEDULE,
                "bad_schedule",
                value=value[:80],
                detail=Bilingual(en.format(**err.params), zh.format(**err.params)),
            )
            return None

    def _date(self, line: int, value: str) -> date | None:
        if not value:
            return None
        match = _DATE.match(value)
        try:
            when = date(int(match[1]), int(match[2]), int(match[3])) if match else None
        except ValueError:
            when = None
        if when is None:
            self.problem(line, Column.EXPIRES_ON, "bad_date", value=value[:40])
            return None
        if when < self.today:
            self.problem(line, Column.EXPIRES_ON, "date_passed", value=when.isoformat())
            return None
        return when

    def _lang(self, line: int, value: str) -> Lang | None:
        if not value:
            return self.default_lang
        lang = _LANGS.get(value.casefold())
        if lang is None:
            self.problem(line, Column.LANGUAGE, "bad_language", value=value[:40])
        return lang
