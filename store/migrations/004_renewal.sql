-- 004: certificate renewal (kur, and ir/cr/p10cr signed with an operator certificate).
SELECT 1;
