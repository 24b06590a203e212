-- Audiences whose type is in the incident's scope.
CREATE TEMP TABLE scope_audiences AS
SELECT a.audience_id, a.advertiser_id, a.audience_type, a.partner_id
FROM audiences a
JOIN param_audience_types t ON t.audience_type = a.audience_type
