# Italian dates as Italians write them: "3 dicembre 2026", not Django's "03 Dicembre 2026"
# (the month names are lower-cased in config/formats/months.py's translations).
DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y, H:i"
YEAR_MONTH_FORMAT = "F Y"
MONTH_DAY_FORMAT = "j F"
