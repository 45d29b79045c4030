-- 0007: a notification integration's WEBHOOK_BODY_TEMPLATE (the JSON body it sends, in which a
-- placeholder stands for the message); NULL sends the payload as it is.
ALTER TABLE integrations ADD COLUMN webhook_body_template text;
