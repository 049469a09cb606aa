"""The departure procedure's rules (离岗): its kinds, its steps and which of them are preconditions of approval.
Pure rules, no I/O.

The regulations file compiles several documents; the ones cited here:
- 教育局保密工作制度篇3 第十三条: 涉密人员经批准离岗、调动的，必须将所保管的国家秘密载体全部清退，并办理移交手续，
  签订离岗保密承诺书。交接时，原涉密人员应将手中涉密载体登记列表，双方核对确认。不遵守规定或拒绝签订保密承诺书的，
  不得批准离岗、调动。 -> the handover list (counts only), the receipt, the pledge, all before approval.
- 篇3 第十四条: 涉密人员离岗、调动，要实行脱密期管理制度 (一般6个月, 重要1年, 核心2年) -> from the approval.
- 篇3 第二十八条: 涉密载体管理人员离岗、离职前应将所保管的涉密载体全部清退，并办理移交手续.
- 涉密人员管理制度 (一、总则为加强教育局涉密人员管理…) 五、2.: 涉密人员在岗、离岗…前，必须进行保密教育 -> the
  education before leaving; 七、2.: 不宜留在涉密岗位的，应坚决调离; 八、辞职、调动与退休: 1. 辞职、调动 … 脱密期管理,
  2. 调动或退休，须及时清退 … 经有关部门验证无误后，方可予以办理.
- 保守国家秘密法（2024）第四十六条: 涉密人员离岗离职 … 清退国家秘密载体，实行离岗离职脱密期管理 (dismissal,
  解聘, is a 离职 like any other).
"""

from __future__ import annotations

from enum import StrEnum

MAX_COUNT = 9999  # carriers or devices of one kind in one handover


class DepartureKind(StrEnum):
    TRANSFER = "transfer"  # 调动 to another unit (篇3 第十三条; 涉密人员管理制度 八、1.2.)
    POST = "post"  # 离岗: to a non-classified post within the bureau (篇3 第十三条 离岗)
    REMOVAL = "removal"  # 调离: found unfit for the classified post (涉密人员管理制度 七、2.)
    RESIGNATION = "resignation"  # 辞职、离职 (涉密人员管理制度 八、1.; 篇3 第二十八条)
    RETIREMENT = "retirement"  # 退休 (涉密人员管理制度 八、2.)
    DISMISSAL = "dismissal"  # 辞退、解聘 (保守国家秘密法（2024）第四十六条 离职)

    @property
    def leaves_bureau(self) -> bool:
        """Whether the person leaves the bureau at approval (and the bot stops serving them); one who stays takes a
        post without classified duties (their level becomes 非涉密)."""
        return self not in (DepartureKind.POST, DepartureKind.REMOVAL)


class ProcedureStep(StrEnum):
    """The steps in the order people meet them; all but the last are preconditions of approval (第十三条)."""

    HANDOVER = "handover"  # the person lists what they hand over (counts)
    RECEIPT = "receipt"  # the head (or the office) checks and confirms receipt
    EDUCATION = "education"  # 离岗前保密教育, recorded by the head or the office
    PLEDGE = "pledge"  # the person signs the departure pledge (asked once the handover is received)
    APPROVAL = "approval"  # the office approves: the 脱密期 starts


PRECONDITIONS = (ProcedureStep.HANDOVER, ProcedureStep.RECEIPT, ProcedureStep.EDUCATION, ProcedureStep.PLEDGE)
# Whose step it is: the person's own, their head's (or the office's when the department has no other head), the
# office's.
PERSON_STEPS = frozenset({ProcedureStep.HANDOVER, ProcedureStep.PLEDGE})
HEAD_STEPS = frozenset({ProcedureStep.RECEIPT, ProcedureStep.EDUCATION})


def parse_count(text: str) -> int | None:
    """A count typed on a phone: digits (full-width too), 0 to MAX_COUNT; None otherwise."""
    text = text.strip().rstrip("件台个")
    if not text.isdigit() or int(text) > MAX_COUNT:
        return None
    return int(text)
