-- 0006: PostgreSQL's twin of ../0006_reserved.sql (a placeholder).
SELECT 1;
