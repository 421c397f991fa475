-- 0005: PostgreSQL's twin of ../0005_reserved.sql (a placeholder).
SELECT 1;
