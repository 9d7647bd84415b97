#include "http_date.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char DAY_NAMES[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const DAY_LONG[7] = { "Sunday", "Monday", "Tuesday", "Wednesday",
					 "Thursday", "Friday", "Saturday" };
static const char MONTH_NAMES[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

size_t http_date_format(time_t t, char *out, size_t cap)
{
	struct tm tm;
	if (cap > 0)
		out[0] = '\0';
	if (cap < 30 || !gmtime_r(&t, &tm))
		return 0;
	if (tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return 0;
	int n = snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT",
			 DAY_NAMES[tm.tm_wday], tm.tm_mday, MONTH_NAMES[tm.tm_mon],
			 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (n != 29) {
		out[0] = '\0';
		return 0;
	}
	return 29;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; m 1..12). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* n decimal digits at s; -1 if any is not a digit. */
static int digits(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int month_index(const char *s)
{
	for (int i = 0; i < 12; i++)
		if (memcmp(s, MONTH_NAMES[i], 3) == 0)
			return i + 1;
	return -1;
}

/* "HH:MM:SS" at s. */
static bool parse_clock(const char *s, int *h, int *mi, int *sec)
{
	if (s[2] != ':' || s[5] != ':')
		return false;
	*h = digits(s, 2);
	*mi = digits(s + 3, 2);
	*sec = digits(s + 6, 2);
	return *h >= 0 && *h <= 23 && *mi >= 0 && *mi <= 59 && *sec >= 0 && *sec <= 60;
}

static time_t make_time(int y, int mon, int d, int h, int mi, int sec)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (y < 1970 || y > 9999 || mon < 1 || mon > 12 || d < 1)
		return -1;
	if (d > mdays[mon - 1] + (mon == 2 && is_leap(y)))
		return -1;
	int64_t days = days_from_civil(y, mon, d);
	return (time_t)(days * 86400 + h * 3600 + mi * 60 + sec);
}

time_t http_date_parse(const char *s, size_t len)
{
	int y, mon, d, h, mi, sec;
	if (len == 29 && s[3] == ',') {
		/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
		bool day_ok = false;
		for (int i = 0; i < 7; i++)
			day_ok |= memcmp(s, DAY_NAMES[i], 3) == 0;
		if (!day_ok || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
		    s[16] != ' ' || memcmp(s + 25, " GMT", 4) != 0)
			return -1;
		d = digits(s + 5, 2);
		mon = month_index(s + 8);
		y = digits(s + 12, 4);
		if (d < 0 || mon < 0 || y < 0 || !parse_clock(s + 17, &h, &mi, &sec))
			return -1;
		return make_time(y, mon, d, h, mi, sec);
	}
	if (len == 24 && s[3] == ' ') {
		/* asctime: "Sun Nov  6 08:49:37 1994" */
		bool day_ok = false;
		for (int i = 0; i < 7; i++)
			day_ok |= memcmp(s, DAY_NAMES[i], 3) == 0;
		if (!day_ok || s[7] != ' ' || s[10] != ' ' || s[19] != ' ')
			return -1;
		mon = month_index(s + 4);
		d = s[8] == ' ' ? digits(s + 9, 1) : digits(s + 8, 2);
		y = digits(s + 20, 4);
		if (d < 0 || mon < 0 || y < 0 || !parse_clock(s + 11, &h, &mi, &sec))
			return -1;
		return make_time(y, mon, d, h, mi, sec);
	}
	/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
	for (int i = 0; i < 7; i++) {
		size_t dl = strlen(DAY_LONG[i]);
		if (len != dl + 24 || memcmp(s, DAY_LONG[i], dl) != 0)
			continue;
		const char *p = s + dl;
		if (p[0] != ',' || p[1] != ' ' || p[4] != '-' || p[8] != '-' ||
		    p[11] != ' ' || memcmp(p + 20, " GMT", 4) != 0)
			return -1;
		d = digits(p + 2, 2);
		mon = month_index(p + 5);
		y = digits(p + 9, 2);
		if (d < 0 || mon < 0 || y < 0 || !parse_clock(p + 12, &h, &mi, &sec))
			return -1;
		y += y < 70 ? 2000 : 1900;
		return make_time(y, mon, d, h, mi, sec);
	}
	return -1;
}

void http_date_update(struct http_date_cache *d, time_t now)
{
	if (d->len && d->sec == now)
		return;
	char date[40];
	size_t n = http_date_format(now, date, sizeof(date));
	int len = snprintf(d->line, sizeof(d->line), "Date: %.*s\r\n", (int)n, date);
	d->len = len > 0 ? (uint32_t)len : 0;
	d->sec = now;
}
