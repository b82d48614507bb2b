-- Each policy version's own budget (as SQLite 0011): memory (MiB) and deadline
-- (ms); NULL: the server's defaults.
ALTER TABLE policies ADD COLUMN memory_mib INTEGER;
ALTER TABLE policies ADD COLUMN deadline_ms INTEGER;
