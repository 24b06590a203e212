-- Matches per class in the window and after the fix, and the window's extra copies.
SELECT in_window, match_class, count(*), coalesce(sum(copies - 1), 0)
FROM classified WHERE in_window OR post_fix GROUP BY in_window, match_class
