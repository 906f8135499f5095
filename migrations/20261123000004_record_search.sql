-- The record search (GET /v1/record/search) filters every query by organization and environment.
-- An environment belongs to one organization, so the two columns are functionally dependent;
-- without telling the planner so, it multiplies their selectivities and underestimates a
-- tenant's share of the table by the number of environments, then picks plans (a bitmap scan
-- plus a sort instead of an index in order) that are right only for small tenants.
CREATE STATISTICS records_tenant_stats (dependencies) ON org_id, environment_id FROM records;
