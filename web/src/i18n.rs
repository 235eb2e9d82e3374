//! The console's labels in English and Chinese: the `lang` cookie if set (the switch in the
//! header), else the browser's Accept-Language.

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    pub fn of(headers: &HeaderMap) -> Lang {
        if let Some(chosen) = crate::session::cookie(headers, "lang") {
            return if chosen == "zh" { Lang::Zh } else { Lang::En };
        }
        let accepted = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // the first language listed (browsers list the preferred first)
        match accepted.split(',').next().map(str::trim) {
            Some(first) if first.to_ascii_lowercase().starts_with("zh") => Lang::Zh,
            _ => Lang::En,
        }
    }

    /// The label `key`; an unknown key shows as itself, so a missing label is visible.
    pub fn label(self, key: &str) -> String {
        let found = LABELS.iter().find(|(k, _, _)| *k == key);
        match (found, self) {
            (Some((_, en, _)), Lang::En) => (*en).to_owned(),
            (Some((_, _, zh)), Lang::Zh) => (*zh).to_owned(),
            (None, _) => key.to_owned(),
        }
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// `/lang/en?back=/types` or `/lang/zh?...`: remembers the choice and goes back to the page
/// (a path on this server only).
pub async fn switch(Path(lang): Path<String>, Query(query): Query<Back>) -> Response {
    let lang = if lang == "zh" { "zh" } else { "en" };
    let back = query
        .back
        .filter(|b| is_console_path(b))
        .unwrap_or_else(|| "/".to_owned());
    let cookie = format!("lang={lang}; Path=/; SameSite=Strict; Max-Age=31536000");
    ([(header::SET_COOKIE, cookie)], Redirect::to(&back)).into_response()
}

/// Whether `back` is a path of this console: `/` and printable characters only, never a
/// second `/` or `\` after the first (which browsers read as another host), nor a tab or a
/// newline, which they strip before reading it.
fn is_console_path(back: &str) -> bool {
    let mut chars = back.chars();
    chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && back.chars().all(|c| c.is_ascii_graphic() && c != '\\')
}

/// (key, English, 中文)
const LABELS: &[(&str, &str, &str)] = &[
    ("app", "msgpool console", "msgpool 消息中心"),
    ("nav.types", "Message types", "消息设置"),
    ("nav.recipients", "Recipients", "接收人"),
    ("nav.groups", "Groups", "分组"),
    ("nav.messages", "Activity", "消息记录"),
    ("nav.deliveries", "Deliveries", "投递记录"),
    ("nav.status", "Status", "运行状态"),
    ("signout", "Sign out", "退出"),
    ("signin", "Sign in", "登录"),
    ("signin.user", "User", "用户名"),
    ("signin.password", "Password", "密码"),
    (
        "signin.or_token",
        "Or, without a user, the console's token:",
        "或者不填用户名，使用控制台令牌：",
    ),
    ("signin.token", "Console token", "控制台令牌"),
    (
        "signin.help",
        "The token msgpool web printed when it started (or MSGPOOL_WEB_TOKEN).",
        "msgpool web 启动时打印的令牌（或 MSGPOOL_WEB_TOKEN）。",
    ),
    (
        "signin.wrong",
        "That user and password, or that token, do not sign in here. Check them and try again.",
        "用户名和密码或令牌不正确，请检查后重试。",
    ),
    (
        "read_only",
        "Read-only: nothing can be changed here.",
        "只读模式：此处不能修改任何内容。",
    ),
    ("key", "Key", "标识"),
    ("name", "Name", "名称"),
    ("description", "Description", "描述"),
    ("category", "Category", "分类"),
    ("category.new", "or a new category", "或新分类"),
    ("urgency", "Urgency", "紧急程度"),
    ("channels", "Channels", "通知方式"),
    ("send_policy", "Send policy", "发送策略"),
    ("enabled", "Enabled", "启用"),
    ("disabled", "Disabled", "停用"),
    ("enable", "Enable", "启用"),
    ("disable", "Disable", "停用"),
    ("last_24h", "Messages (24 h)", "近24小时消息"),
    ("all", "All", "全部"),
    ("search", "Search", "搜索"),
    ("filter", "Filter", "筛选"),
    ("add", "Add", "新增"),
    ("edit", "Edit", "编辑"),
    ("save", "Save", "保存"),
    ("remove", "Remove", "删除"),
    ("type.new", "New message type", "新增消息类型"),
    ("type.edit", "Message type", "消息类型"),
    ("policy.immediate", "Immediately", "立即发送"),
    ("policy.times_of_day", "At times of day", "定时发送"),
    ("policy.interval", "At most every", "间隔发送"),
    (
        "send_times",
        "Send times (HH:MM, comma separated)",
        "发送时间（HH:MM，逗号分隔）",
    ),
    ("time_zone", "Time zone", "时区"),
    (
        "send_interval",
        "Interval (e.g. 2 hours)",
        "间隔（如 2 hours）",
    ),
    (
        "digest",
        "Gather deferred messages into one digest",
        "延迟的消息合并为摘要发送",
    ),
    ("dedup_window", "Dedup window", "去重时间窗"),
    ("max_attempts", "Max attempts", "最大重试次数"),
    ("quiet_hours", "Quiet hours", "免打扰时段"),
    ("quiet.from", "From", "开始"),
    ("quiet.to", "To", "结束"),
    ("quiet.below", "Hold below", "低于此紧急程度时暂缓"),
    (
        "quiet.drop",
        "Drop instead of deferring",
        "直接丢弃而非延后",
    ),
    ("templates", "Templates", "消息模板"),
    ("subject", "Subject", "标题"),
    ("body", "Body", "正文"),
    ("html_body", "HTML part (email)", "HTML 正文（邮件）"),
    ("digest_subject", "Digest subject", "摘要标题"),
    ("digest_body", "Digest body", "摘要正文"),
    (
        "sample_payload",
        "Sample payload (JSON)",
        "示例数据（JSON）",
    ),
    ("preview", "Preview", "预览"),
    (
        "preview.digest",
        "As a digest of two such messages",
        "两条此类消息合并为摘要时",
    ),
    ("send_test", "Send a test", "发送测试"),
    ("send_test.to", "To", "发送给"),
    ("rate_limits", "Rate limits", "频率限制"),
    ("recipient.new", "New recipient", "新增接收人"),
    ("recipient", "Recipient", "接收人"),
    ("email", "Email", "邮箱"),
    ("phone", "Phone", "手机号"),
    ("webhook", "Webhook", "群机器人"),
    ("webhook_flavor", "Flavor", "类型"),
    ("webhook_secret", "Secret", "密钥"),
    (
        "secret.set",
        "set — type a new one to replace it",
        "已设置——输入新值以替换",
    ),
    ("secret.none", "none", "未设置"),
    ("groups", "Groups", "所属分组"),
    ("group", "Group", "分组"),
    ("group.new", "New group", "新增分组"),
    ("members", "Members", "成员"),
    ("subscriptions", "Subscriptions", "订阅"),
    ("subscribe", "Subscribe", "订阅"),
    ("unsubscribe", "Unsubscribe", "取消订阅"),
    (
        "all_channels",
        "all of the type's channels",
        "该类型的全部方式",
    ),
    ("inbox_link", "Inbox link", "站内信链接"),
    (
        "history_kept",
        "A recipient with deliveries cannot be removed: their history stays. Disable them instead.",
        "有投递记录的接收人不能删除（记录需保留），请改为停用。",
    ),
    ("messages", "Messages", "消息"),
    ("message", "Message", "消息"),
    ("state", "State", "状态"),
    ("source", "Source", "来源"),
    ("dedup_key", "Dedup key", "去重键"),
    ("since", "From", "起"),
    ("until", "Until", "止"),
    ("created", "Created", "创建时间"),
    ("due", "Due", "计划时间"),
    ("repeats", "Repeats", "重复次数"),
    ("payload", "Payload", "消息数据"),
    ("deliveries", "Deliveries", "投递"),
    ("channel", "Channel", "方式"),
    ("attempts", "Attempts", "尝试"),
    ("deferred_by", "Deferred by", "延后原因"),
    ("problem", "Problem", "问题"),
    ("deferred", "Deferred", "已延后"),
    ("status.peak", "Peak", "峰值"),
    ("next", "Next page", "下一页"),
    ("first", "Newest", "最新"),
    ("retry", "Retry", "重试"),
    ("retry.selected", "Retry selected", "重试所选"),
    (
        "retry.all",
        "Retry all dead matching the filter",
        "重试筛选出的全部失败投递",
    ),
    ("cancel", "Cancel message", "撤销消息"),
    ("none", "Nothing here yet.", "暂无数据。"),
    ("status.refresh", "Refreshes every 3 s", "每 3 秒刷新"),
    ("status.pause", "Pause", "暂停"),
    ("status.resume", "Resume", "继续"),
    (
        "status.sent_hour",
        "Sent per minute, last hour",
        "近一小时每分钟发送量",
    ),
    ("status.channels", "Channels", "通知方式"),
    ("status.destinations", "Destinations", "投递目标"),
    ("status.duplicates", "Repeated messages", "重复消息"),
    ("status.robots", "Chat robot limits", "群机器人限额"),
    ("status.oldest_due", "Oldest due", "最久等待"),
    ("sent_last_minute", "Sent (1 min)", "近1分钟发送"),
    ("pending", "Pending", "待发送"),
    ("sending", "Sending", "发送中"),
    ("dead", "Dead", "失败"),
    ("in_flight", "In flight", "进行中"),
    ("limit", "Limit", "上限"),
    ("latency", "Latency", "延迟"),
    ("paused_until", "Paused until", "暂停至"),
    ("inbox", "Inbox", "站内信"),
    ("inbox.unread", "unread", "未读"),
    ("inbox.mark_all", "Mark all read", "全部已读"),
    ("inbox.back", "Back to the inbox", "返回站内信"),
    ("inbox.empty", "No messages.", "没有消息。"),
    ("saved", "Saved.", "已保存。"),
    ("limit.per_recipient", "Per recipient", "每个接收人"),
    ("limit.window", "Window", "时间窗"),
    (
        "limit.per_second",
        "Per second to the provider",
        "每秒发往服务商",
    ),
    ("limit.max_sends", "Sends", "次数"),
    (
        "key.taken",
        "a message type with this key exists already",
        "该标识已被使用",
    ),
    ("test.sent", "Test sent as message", "测试消息已发送，编号"),
];
