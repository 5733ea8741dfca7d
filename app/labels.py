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
    "notification_kind": {
        "task_due_soon": "即将到期", "task_overdue": "已超期", "task_submitted": "待验收",
        "task_rejected": "被退回", "task_urged": "催办", "visit_overdue": "包联走访超期",
        "revisit_due": "回头看到期", "acceptance_due": "应申请验收", "webhook_paused": "推送已暂停",
    },
    "deadline": {
        "overdue": "已超期", "within_10": "10天内到期", "within_20": "20天内到期",
        "later": "20天以后到期", "done": "已完成",
    },
    "webhook_format": {
        "json": "JSON(县级系统)", "wecom": "企业微信群机器人", "dingtalk": "钉钉机器人",
    },
    "record_type": {
        "township": "乡镇", "branch": "党支部", "campaign": "专项整治", "screening": "排查",
        "activity": "工作开展", "form_issuance": "征求意见表发放", "feedback_form": "征求意见表",
        "opinion": "意见", "suggestion": "梳理的意见建议", "problem": "问题", "task": "整改任务",
        "progress_update": "整改进展", "attachment": "佐证材料", "task_urge": "催办",
        "rectification": "整顿转化", "liaison_visit": "包联走访", "acceptance": "验收",
        "revisit": "回头看", "user": "用户", "api_token": "API 令牌",
    },
    "delivery_kind": {"changes": "变更", "digest": "每日提醒摘要", "test": "测试推送"},
    "delivery_status": {
        "pending": "待发送", "retrying": "失败,等待重试", "delivered": "已送达",
        "failed": "失败",
    },
    "rectification_status": {
        "proposed": "拟认定", "designated": "已认定", "applied": "申请验收",
        "converted": "已转化", "withdrawn": "不予认定",
    },
    "rectification_action": {
        "designate": "认定", "withdraw": "不予认定", "apply": "申请验收",
        "approve_plan": "审定整顿方案",
    },
    "weak_type": {"soft": "软", "lax": "散", "chaotic": "乱", "poor": "穷"},
    "liaison_role": {
        "county_leader": "县级领导", "township_leader": "乡镇领导",
        "first_secretary": "第一书记", "helper_unit": "帮扶单位",
    },
    "grade": {"fail": "不合格", "basic": "基本合格", "pass": "合格"},
    "rating_dimension": {
        "ability": "工作能力", "style": "工作作风", "integrity": "廉洁自律",
        "results": "整顿成效", "overall": "总体满意度",
    },
    "revisit_result": {"holds": "巩固", "relapsed": "反弹"},
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
        "weak_types": "类型", "target_on": "整顿时限",
        "plan": "整顿方案", "liaisons": "包联力量", "designated_on": "认定日期",
        "publicity_until": "公示截止日期", "visitor_name": "走访人", "visited_on": "走访日期",
        "item_scores": "评分", "ratings": "民主测评", "done_on": "回头看日期",
        "result": "回头看结果", "rectification_id": "整顿转化",
        "cursor": "分页游标", "limit": "每页条数", "types": "记录类型", "scope": "权限",
        # corrections and the history page (修改记录)
        "reason": "原因", "form_id": "意见表", "suggestion_id": "所属意见建议",
        "submitted_by": "录入人", "submitted_at": "录入时间", "add_opinion_ids": "加入的意见",
        "status_note": "状态说明", "completed_at": "完成时间", "verified_at": "销号时间",
        "verified_by": "验收人", "active": "启用", "expires_at": "有效期至",
        "revoked_at": "吊销时间",
        "url": "推送地址", "format": "格式", "secret": "签名密钥", "deadline": "剩余时限",
        "allow_past_due": "确认时限已过",
        # columns shown on the history pages of every type of record
        "party_committee_name": "党委名称", "task_id": "整改任务", "author": "填报人",
        "author_user_id": "填报人账号", "update_id": "整改进展", "file_name": "文件名",
        "content_type": "文件类型", "size": "文件大小(字节)", "sha256": "校验值",
        "storage_key": "存储位置", "user_id": "用户", "urged_by": "催办人",
        "screening_id": "排查记录", "proposed_by": "拟认定人", "proposed_on": "拟认定日期",
        "designated_by": "认定人", "publicity_from": "公示开始日期",
        "plan_approved_by": "方案审定人", "plan_approved_on": "方案审定日期",
        "county_leader_name": "县级包联领导", "county_leader_post": "县级包联领导职务",
        "township_leader_name": "乡镇包联领导", "township_leader_post": "乡镇包联领导职务",
        "first_secretary_name": "第一书记", "first_secretary_post": "第一书记职务",
        "helper_unit_name": "帮扶单位", "converted_on": "转化日期", "relapse_count": "反弹次数",
        "recorded_by": "记录人", "total": "总分", "grade": "等次", "months": "间隔月数",
        "password_hash": "密码", "prefix": "令牌前缀", "secret_hash": "令牌密钥",
        "last_used_at": "最近使用时间",
        # fields and query parameters clients send
        "action": "操作", "actor": "操作人", "confirm_duplicate_evidence": "确认重复的佐证材料",
        "consolidated": "已归入意见建议", "dry_run": "仅预览", "due": "到期",
        "due_before": "到期日早于", "entity_id": "记录编号", "entity_type": "记录类型",
        "expires_days": "有效天数", "file": "文件", "flag": "预警标记", "label": "名称",
        "order": "排序", "overdue": "已超期", "q": "关键词", "read": "已读", "retired": "停用",
        "revoked": "吊销", "unread": "未读",
    },
    "audit_action": {"create": "新建", "update": "修改", "delete": "删除"},
}


def label(group: str, code: object) -> str:
    """The Chinese label of `code` in `group`, or the code itself when it has none."""
    key = getattr(code, "value", code)
    return LABELS.get(group, {}).get(str(key), str(key))
