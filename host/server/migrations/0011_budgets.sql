-- drydock schema v11: each policy version's own budget.
--
-- The memory (MiB, all of an instance's memories together) and the deadline (ms)
-- its decisions run under, chosen at upload within the server's maxima (a Python
-- or JavaScript component starts at 9-13 MiB; a Rust one at about 1). NULL (rows
-- from before): the server's defaults.
ALTER TABLE policies ADD COLUMN memory_mib INTEGER;
ALTER TABLE policies ADD COLUMN deadline_ms INTEGER;
