/* timefmt.c - RFC 3339 timestamps: strict parsing and a canonical UTC form. */
#include "timefmt.h"

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int days_in_month(int y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

int timefmt_parse_rfc3339(const char *s, size_t len, int64_t *us)
{
	int Y, M, D, h, mi, sec, frac_us = 0, off = 0;
	if (len < 20 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
	    digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
	    s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
		return -1;
	if (M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || mi > 59 || sec > 60)
		return -1;
	size_t i = 19;
	if (i < len && s[i] == '.') {
		size_t start = ++i;
		int scale = 100000;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			frac_us += (s[i] - '0') * scale;
			scale /= 10;
			i++;
		}
		if (i == start)
			return -1;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i + 6 == len && (s[i] == '+' || s[i] == '-')) {
		int oh, om;
		if (digits(s + i + 1, 2, &oh) || s[i + 3] != ':' || digits(s + i + 4, 2, &om) ||
		    oh > 23 || om > 59)
			return -1;
		off = (oh * 60 + om) * (s[i] == '+' ? 1 : -1);
		i += 6;
	} else {
		return -1;
	}
	if (i != len)
		return -1;
	if (sec == 60)
		sec = 59; /* a leap second is kept within its minute */
	int64_t t = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - (int64_t)off * 60;
	if (t < TIMEFMT_MIN_SECONDS || t > TIMEFMT_MAX_SECONDS)
		return -1; /* outside years 0001-9999 in UTC */
	*us = t * 1000000 + frac_us;
	return 0;
}

/* Writes v (0 <= v < 10^n) as n decimal digits, zero-padded. */
static void put_digits(char *out, int n, int v)
{
	for (int i = n - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

void timefmt_format_utc(int64_t us, char out[TIMEFMT_LEN])
{
	if (us < TIMEFMT_MIN_SECONDS * 1000000)
		us = TIMEFMT_MIN_SECONDS * 1000000;
	if (us > TIMEFMT_MAX_SECONDS * 1000000 + 999999)
		us = TIMEFMT_MAX_SECONDS * 1000000 + 999999;
	int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
	int64_t frac = us - secs * 1000000;
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t rem = secs - days * 86400;
	int y, m, d;
	civil_from_days(days, &y, &m, &d);
	/* "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", by hand: this is on every comment's path */
	put_digits(out, 4, y);
	out[4] = '-';
	put_digits(out + 5, 2, m);
	out[7] = '-';
	put_digits(out + 8, 2, d);
	out[10] = 'T';
	put_digits(out + 11, 2, (int)(rem / 3600));
	out[13] = ':';
	put_digits(out + 14, 2, (int)(rem % 3600 / 60));
	out[16] = ':';
	put_digits(out + 17, 2, (int)(rem % 60));
	out[19] = '.';
	put_digits(out + 20, 6, (int)frac);
	out[26] = 'Z';
	out[27] = '\0';
}
