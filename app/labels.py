"""The one catalogue that maps every code to its Chinese label."""

LABELS: dict[str, dict[str, str]] = {
    "branch_kind": {
        "village": "农村", "community": "社区", "organ": "机关",
        "enterprise": "企业", "school": "学校", "other": "其他",
    },
    "branch_flag": {
        "age_bands_incomplete": "年龄段合计不足党员总数",
        "secretary_60_plus": "书记60岁以上",
        "no_dual_role": "未“一肩挑”(换届隐患)",
        "low_collective_income": "集体经济收入低",
        "no_young_members": "无35岁以下党员",
    },
    "role": {
        "county_admin": "县委组织部管理员", "township_staff": "乡镇工作人员",
        "branch_secretary": "党支部书记", "viewer": "只读用户",
    },
    "token_scope": {"read": "只读", "write": "读写"},
    "problem_source": {
        "screening": "排查发现", "feedback": "征求意见", "inspection": "督查检查",
        "self_check": "自查",
    },
    "task_status": {
        "pending": "未开始", "in_progress": "整改中", "submitted": "待验收", "verified": "已销号",
        "cancelled": "已撤销",
    },
    "task_action": {
        "start": "开始整改", "submit": "提交验收", "verify": "验收销号", "reject": "退回",
        "reopen": "重新打开", "create": "创建任务", "update": "修改", "delete": "删除",
        "cancel": "撤销任务", "extend": "延期",
    },
    "campaign_status": {"active": "进行中", "closed": "已结束"},
    "theme": {
        "prosperity": "带领群众致富", "member_quality": "提高党员素质", "service": "增强服务意识",
        "work_style": "转变工作作风", "organization": "组织建设", "other": "其他",
    },
    "respondent_kind": {
        "party_member": "党员", "villager": "群众", "cadre": "干部", "other": "其他",
    },
    "satisfaction": {"satisfied": "满意", "basically": "基本满意", "dissatisfied": "不满意"},
    "activity_kind": {
        "meeting": "专题会议", "training": "集中培训", "warning_education": "警示教育",
        "visit": "走访", "other": "其他",
    },
    "conclusion": {"weak_lax": "软弱涣散", "sound": "未发现软弱涣散", "pending": "待定"},
    "progress_state": {
        "done": "已完成", "late": "逾期完成", "pending": "待定结论", "todo": "未排查",
    },
    "field": {
        "township_id": "所属乡镇", "name": "名称", "code": "编码", "kind": "类型",
        "member_count": "党员总数", "members_35_under": "35岁及以下党员",
        "members_36_55": "36至55岁党员", "members_56_over": "56岁及以上党员",
        "applicants_35_under": "35岁及以下入党申请人/积极分子",
        "secretary_name": "书记姓名", "secretary_birth_year": "书记出生年份",
        "secretary_is_director": "书记兼任村委会主任(一肩挑)",
        "collective_income_wan": "村集体经济收入(万元)", "income_sources": "收入来源",
        "is_weak_lax": "软弱涣散", "notes": "备注", "username": "用户名", "password": "密码",
        "display_name": "姓名", "role": "角色", "branch_id": "所属党支部", "version": "版本号",
        "campaign_id": "专项整治", "problem_id": "问题", "category": "问题类别",
        "source": "问题来源", "description": "描述", "title": "整改措施",
        "responsible_unit": "责任单位", "responsible_person": "责任人", "due_on": "整改时限",
        "note": "说明", "files": "佐证材料", "starts_on": "开始日期", "ends_on": "结束日期",
        "screening_due": "排查截止日期", "status": "状态",
        "respondent_kind": "填表人身份", "anonymous": "匿名", "respondent_name": "填表人姓名",
        "satisfaction": "满意度", "opinions": "意见", "theme": "类别", "text": "内容",
        "issued": "发放份数", "opinion_ids": "意见",
        "led_by": "带队领导", "led_by_title": "职务", "screened_on": "排查日期",
        "conclusion": "结论", "summary": "情况说明", "results": "排查结果", "codes": "情形",
        "held_on": "日期", "participants": "参加人数",
        "cursor": "分页游标", "limit": "每页条数", "types": "记录类型", "scope": "权限",
        "allow_past_due": "确认时限已过", "reason": "原因",
    },
}


def label(group: str, code: object) -> str:
    """The Chinese label of `code` in `group`, or the code itself when it has none."""
    key = getattr(code, "value", code)
    return LABELS.get(group, {}).get(str(key), str(key))
