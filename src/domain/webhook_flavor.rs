use super::sql_enum;

sql_enum!(
    /// Which chat robot a recipient's webhook is: decides the JSON format and the signature.
    WebhookFlavor, "webhook flavor", "msgpool.webhook_flavor",
    { Dingtalk => "dingtalk", Wecom => "wecom", Feishu => "feishu", Slack => "slack", Generic => "generic" }
);
