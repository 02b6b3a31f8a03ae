"""The class list reader: encodings (UTF-8 with and without BOM, GB18030 with Chinese names,
refusals), the column set in both languages, the schedule grammar, every problem a row can have
(with its line and column), and the limits. Pure: no server, no database."""

from __future__ import annotations

import codecs
from datetime import date

import pytest

from camera_app.onboarding import MAX_BYTES, MAX_ROWS, ClassList, read_class_list, template_csv
from camera_app.onboarding.classlist import parse_schedule
from privacy.gates.schedule import Schedule

TODAY = date(2026, 11, 16)
ROOMS = {"Sunflower", "Rainbow", "向日葵"}
FULL_DAY = Schedule.model_validate(
    {"windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "17:00"}]}
)
ZH_LIST = (
    "家庭,用户名,教室,观看时段,截止日期,语言\r\n"
    "王小明家,wang.xm,向日葵,周一至周五 08:00-17:00,2027年7月15日,中文\r\n"
    "李华（爷爷）,li.hua,向日葵、Rainbow,全日,2027/7/15,\r\n"
    "张伟家,zhang.w,Sunflower,周一、周三 14:00–16:30；周六 9:00～11:00,2027-07-15,en\r\n"
)


def read(data: bytes, *, taken: set[str] = frozenset(), lang: str = "zh") -> ClassList:  # type: ignore[assignment]
    return read_class_list(
        data,
        rooms=ROOMS,
        schedules={"全日": FULL_DAY, "Full-day": FULL_DAY},
        taken=lambda username: username in taken,
        today=TODAY,
        default_lang=lang,
    )


def problems(result: ClassList) -> list[tuple[int, str | None, str]]:
    return [(p.line, p.column.value if p.column else None, p.code) for p in result.problems]


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("gb18030"),
        lambda text: text.encode("gbk"),
        lambda text: text.encode("utf-8"),
        lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    ],
    ids=["gb18030", "gbk", "utf-8", "utf-8-bom"],
)
def test_a_chinese_class_list_reads_the_same_in_every_accepted_encoding(encode) -> None:
    result = read(encode(ZH_LIST))
    assert result.ok, result.problems
    wang, li, zhang = result.families
    assert (wang.label, wang.username, wang.rooms, wang.lang) == (
        "王小明家",
        "wang.xm",
        ("向日葵",),
        "zh",
    )
    assert wang.schedule == FULL_DAY and wang.schedule_name is None
    assert wang.expires_on == date(2027, 7, 15)
    assert li.label == "李华（爷爷）" and li.rooms == ("向日葵", "Rainbow")
    assert li.schedule == FULL_DAY and li.schedule_name == "全日"
    assert li.lang == "zh"  # no language: the importer's
    assert zhang.lang == "en" and zhang.schedule.describe("en") == (
        "Mon, Wed 14:00–16:30; Sat 09:00–11:00"
    )
    assert [f.line for f in result.families] == [2, 3, 4]


def test_the_encoding_is_reported() -> None:
    assert read(ZH_LIST.encode("gb18030")).encoding == "gb18030"
    assert read(codecs.BOM_UTF8 + ZH_LIST.encode()).encoding == "utf-8-sig"
    assert read(ZH_LIST.encode()).encoding == "utf-8"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_templates_read_back_without_a_problem(lang: str) -> None:
    data = template_csv(lang)
    assert data.startswith(codecs.BOM_UTF8)  # Excel needs it to read UTF-8
    result = read(data)
    assert result.ok and len(result.families) == 2
    assert ("用户名" in data.decode("utf-8-sig")) == (lang == "zh")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (ZH_LIST.encode("utf-16"), "utf16"),  # Excel's "Unicode text"
        (ZH_LIST.encode("utf-16-le"), "utf16"),  # without a BOM
        ("family,username\r\nCafé,x\r\n".encode("cp1252") + b"\xff", "encoding"),
        (b"family,username,rooms,schedule,expires_on\r\n\xa1\xa1\x81\x30\x81\x30", "encoding"),
        (b"username,rooms,schedule,expires_on\r\n" + b"\xaa\xa1,x,y,z\r\n", "encoding"),  # PUA
        (b"x" * (MAX_BYTES + 1), "too_big"),
        (b"", "empty"),
        (b"\r\n,,,\r\n", "empty"),
        (b"username,rooms,schedule,expires_on\r\n,,,\r\n", "no_rows"),
        (b'username,rooms\r\n"a,b\r\n', "not_csv"),
    ],
    ids=[
        "utf16-bom",
        "utf16-no-bom",
        "cp1252",
        "bad-gb18030",
        "private-use",
        "too-big",
        "empty",
        "blank",
        "no-rows",
        "open-quote",
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(data: bytes, code: str) -> None:
    result = read(data)
    assert not result.ok and result.families == ()
    assert [p.code for p in result.problems] == [code]
    assert result.problems[0].line == 0
    assert result.problems[0].message("zh") and result.problems[0].message("en")


def test_too_many_rows() -> None:
    rows = "".join(f"u{i},Sunflower,mon 08:00-09:00,2027-01-31\n" for i in range(MAX_ROWS + 1))
    result = read(f"username,rooms,schedule,expires_on\n{rows}".encode())
    assert problems(result) == [(0, None, "too_many_rows")]
    assert str(MAX_ROWS) in result.problems[0].message("en")
    ok = read(f"username,rooms,schedule,expires_on\n{rows.split(chr(10), 1)[1]}".encode())
    assert ok.ok and len(ok.families) == MAX_ROWS


def test_header_problems_name_the_column_and_keep_personal_columns_out() -> None:
    data = "家庭,用户名,教室,手机号,身份证号,用户名\n王家,wang,向日葵,13800138000,x,y\n"
    result = read(data.encode("gb18030"))
    assert result.families == ()
    found = [(p.line, p.code, p.header, p.letter) for p in result.problems]
    assert found == [
        (1, "unknown_column", "手机号", "D"),
        (1, "unknown_column", "身份证号", "E"),
        (1, "duplicate_column", "用户名", "F"),
        (1, "missing_column", None, None),
        (1, "missing_column", None, None),
    ]
    missing = {p.column.value for p in result.problems if p.code == "missing_column" and p.column}
    assert missing == {"schedule", "expires_on"}
    assert "电话" in result.problems[0].message("zh")
    assert "phone" in result.problems[0].message("en")


def test_headers_in_either_language_any_order_case_and_spaces() -> None:
    data = (
        " Expires On ,ROOMS,User Name,schedule,语言\n"
        "2027-01-31,sunflower,a.b,weekdays 8:00-12:00,EN\n"
    )
    result = read(data.encode())
    assert result.ok, result.problems
    (family,) = result.families
    assert family.rooms == ("Sunflower",)  # as the device names it
    assert family.schedule.windows[0].days == ["mon", "tue", "wed", "thu", "fri"]
    assert family.schedule.windows[0].start == "08:00" and family.lang == "en"


def test_a_value_under_a_blank_header_is_refused() -> None:
    data = (
        "username,rooms,,schedule,expires_on\n"
        "emma,Sunflower,13800138000,mon 08:00-09:00,2027-01-31\n"
    )
    result = read(data.encode())
    assert problems(result) == [(2, None, "extra_cells")]
    assert "column C" in result.problems[0].message("en")
    blank = read(data.replace("13800138000", "").encode())
    assert blank.ok


def test_semicolon_separated_files_read_too() -> None:
    data = "username;rooms;schedule;expires_on\nemma;Sunflower;mon-fri 08:00-17:00;2027-01-31\n"
    assert read(data.encode()).ok


def test_every_row_problem_is_reported_with_line_and_column() -> None:
    data = (
        "family,username,rooms,schedule,expires_on,language\n"
        "ok family,good.one,Sunflower,mon-fri 08:00-17:00,2027-01-31,en\n"  # 2: fine
        "\n"  # 3: blank, skipped
        ",,Sunflower,mon 08:00-09:00,2027-01-31,\n"  # 4: no username
        ",bad name,Moon,mon-fri 08:00-17:00,2027-01-31,\n"  # 5: bad username, unknown room
        ",good.one,Sunflower,mon-fri 08:00-17:00,2027-01-31,\n"  # 6: duplicate
        ",GOOD.ONE,Sunflower,mon-fri 08:00-17:00,2027-01-31,\n"  # 7: duplicate, other case
        ",owner,Sunflower,mon-fri 08:00-17:00,2027-01-31,\n"  # 8: taken
        ",a,Sunflower,someday 08:00-17:00,2027-01-31,\n"  # 9: bad day
        ",b,Sunflower,mon 09:00-09:00,2027-01-31,\n"  # 10: empty window
        ",c,Sunflower,mon 25:00-26:00,2027-01-31,\n"  # 11: bad time
        ",d,Sunflower,half-day,2027-01-31,\n"  # 12: unknown name
        ",e,Sunflower,mon 08:00-09:00,2027-02-30,\n"  # 13: no such date
        ",f,Sunflower,mon 08:00-09:00,2026-11-15,\n"  # 14: passed
        ",g,Sunflower,mon 08:00-09:00,31/01/2027,\n"  # 15: not a date format
        ",h,Sunflower,mon 08:00-09:00,2027-01-31,fr\n"  # 16: language
        "13800138000 family,i,Sunflower,mon 08:00-09:00,2027-01-31,\n"  # 17: phone number
        f"{'x' * 41},j,Sunflower,mon 08:00-09:00,2027-01-31,\n"  # 18: label too long
        ",k,Sunflower,mon 08:00-09:00,2027-01-31,,extra\n"  # 19: a cell past the headers
        ',"multi\nline",Sunflower,mon 08:00-09:00,2027-01-31,\n'  # 20-21: bad username
        ",l,,,,\n"  # 22: three required cells empty
        ",m,A;B;C;D;E;F;G;H;I,mon 08:00-09:00,2027-01-31,\n"  # 23: too many rooms
        ",today.ok,Sunflower,mon 08:00-09:00,2026-11-16,\n"  # 24: today is fine
    )
    result = read(data.encode(), taken={"owner"})
    assert not result.ok
    assert [f.username for f in result.families] == ["good.one", "today.ok"]
    assert problems(result) == [
        (4, "username", "required"),
        (5, "username", "bad_username"),
        (5, "rooms", "unknown_room"),
        (6, "username", "duplicate_username"),
        (7, "username", "duplicate_username"),
        (8, "username", "username_taken"),
        (9, "schedule", "bad_schedule"),
        (10, "schedule", "bad_schedule"),
        (11, "schedule", "bad_schedule"),
        (12, "schedule", "bad_schedule"),
        (13, "expires_on", "bad_date"),
        (14, "expires_on", "date_passed"),
        (15, "expires_on", "bad_date"),
        (16, "language", "bad_language"),
        (17, "family", "label_has_number"),
        (18, "family", "label_too_long"),
        (19, None, "extra_cells"),
        (20, "username", "bad_username"),
        (22, "rooms", "required"),
        (22, "schedule", "required"),
        (22, "expires_on", "required"),
        (23, "rooms", "too_many_rooms"),
    ]
    by_line = {p.line: p for p in result.problems}
    assert by_line[6].message("en") == "'good.one' is also on line 2"
    assert by_line[6].letter == "B" and by_line[6].header == "username"
    room = next(p for p in result.problems if p.code == "unknown_room")
    assert room.message("en") == "no camera is in room 'Moon' (rooms: Rainbow, Sunflower, 向日葵)"
    assert by_line[19].message("en") == (
        "this row has a value in column G, which has no header; remove it"
    )
    assert "'someday' is not a weekday" in by_line[9].message("en")
    assert "“someday”不是星期几" in by_line[9].message("zh")
    assert "Full-day" in by_line[12].message("en")  # the school's names are suggested
    json = by_line[14].to_json("zh")
    assert json == {
        "line": 14,
        "column": "expires_on",
        "header": "expires_on",
        "letter": "E",
        "code": "date_passed",
        "message": "2026-11-15 已经过去",
    }


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        ("mon-fri 08:00-17:00", [(["mon", "tue", "wed", "thu", "fri"], "08:00", "17:00")]),
        ("Monday, Wednesday 8:00 – 12:30", [(["mon", "wed"], "08:00", "12:30")]),
        ("周一至周五 08:00至17:00", [(["mon", "tue", "wed", "thu", "fri"], "08:00", "17:00")]),
        ("星期六、星期日 09：00～11：30", [(["sat", "sun"], "09:00", "11:30")]),
        ("fri-mon 20:00-02:00", [(["mon", "fri", "sat", "sun"], "20:00", "02:00")]),
        (
            "每天 07:30-08:30",
            [(list(("mon", "tue", "wed", "thu", "fri", "sat", "sun")), "07:30", "08:30")],
        ),
        (
            "mon 08:00-11:00; mon 14:00-17:00",
            [(["mon"], "08:00", "11:00"), (["mon"], "14:00", "17:00")],
        ),
        ("FULL-DAY", [(["mon", "tue", "wed", "thu", "fri"], "08:00", "17:00")]),
    ],
)
def test_schedule_grammar(text: str, windows: list) -> None:
    schedule, _ = parse_schedule(text, {"full-day": FULL_DAY})
    assert [(w.days, w.start, w.end) for w in schedule.windows] == windows


@pytest.mark.parametrize(
    "text", ["", "mon", "08:00-17:00", "mon-fri 8-17", "mon 08:00-17:00;", "moon 08:00-09:00"]
)
def test_schedule_grammar_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(text, {})


def test_usernames_may_be_left_to_the_parents_where_they_pick_one() -> None:
    """A site's invites let each parent pick a username: the column may be missing or a cell
    empty; a username given is still checked (form, duplicates, taken). The device still needs
    one on every row."""

    def read_optional(text: str) -> ClassList:
        return read_class_list(
            text.encode(),
            rooms=ROOMS,
            schedules={"全日": FULL_DAY},
            taken=lambda username: username == "li.hua",
            today=TODAY,
            default_lang="zh",
            username_required=False,
        )

    without = "家庭,教室,观看时段,截止日期\r\n王小明家,向日葵,全日,2027-07-15\r\n"
    assert problems(read(without.encode())) == [(1, "username", "missing_column")]
    optional = read_optional(without)
    assert optional.ok and optional.families[0].username is None
    mixed = (
        "用户名,教室,观看时段,截止日期\r\n,向日葵,全日,2027-07-15\r\nli.hua,向日葵,全日,2027-07-15\r\n"
        "a b,向日葵,全日,2027-07-15\r\n"
    )
    assert problems(read_optional(mixed)) == [
        (3, "username", "username_taken"),
        (4, "username", "bad_username"),
    ]
