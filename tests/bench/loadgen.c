/* loadgen.c - load generator for `make bench`: realistic comment-submitted events into Kafka.
 *
 * Usage: loadgen -t TOPIC [-b BOOTSTRAP] [-n N] [-r RATE -d SECONDS] [-s SEED] [-R RULES_FILE] [-C TOPIC] [-S] [-q]
 *
 *   -t TOPIC     input topic (must exist; the bench driver creates it with 3 partitions)
 *   -b SERVERS   Kafka bootstrap servers (default $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)
 *   -n N         events to send (default 200000), as fast as the producer goes (pre-fill)
 *   -r RATE      paced mode: RATE events/s, for -d SECONDS (N = RATE * SECONDS); every event
 *                carries "bench_sent_at_us", the wall-clock microsecond it was handed to the producer
 *   -C TOPIC     also send every event to TOPIC in Kafka Connect's JsonConverter form
 *                ({"schema":...,"payload":<the same event>}), for the Kafka Connect peer; a
 *                malformed event is sent as the same malformed bytes
 *   -S           stamp bench_sent_at_us in pre-fill mode too
 *   -s SEED      seed of the content mix (default 1); comment and author ids are fresh every run
 *   -R FILE      rules file: check each planned event against the stateless rules (decode +
 *                triage, as the service runs them) and count the events that miss their intent
 *   -q           no progress on stderr
 *
 * The mix (per mille of N), keyed by article_id like a front end does:
 *   published  ~860  seed-style bodies, 2-4 sentences, one in six with accents, emoji or another
 *                    script; authors are new, or post again (up to 3 comments, other articles);
 *                    one in five is a reply (parent_id)
 *   held        ~80  link 20, e-mail 10, phone 10, shouting 10, repeated characters 10, suspect
 *                    term 10, rate_limited 10 (a chatty author's 6th comment within a minute)
 *   rejected    ~40  too short 15, too long 5, malformed JSON 5, missing author 5, banned term 5,
 *                    duplicate_content 5 (the same author, article and body again, new comment_id)
 *   duplicate   ~20  the same comment_id re-sent (a front-end retry) 4,000-8,000 events later, so
 *                    that it is never in the same batch of BATCH_MAX_MESSAGES <= 1000 as the original
 *
 * Prints one JSON object on stdout: what was sent and the outcome counts the service must reach.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "comment.h"
#include "rules.h"
#include "timefmt.h"

#include "bench_common.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *const names[] = {
	"Priya S", "Aman W", "Sarah B", "Vikram M", "Karthik V", "Olena K", "José M", "Zoë L",
	"Nguyễn A", "Mark T", "Fatima R", "Ananya D", "Tom H", "Meera P", "Rahul G", "Chen W",
	"Aïsha N", "Lukas F", "Ravi K", "Emma J", "Dmytro P", "Sofia C", "Arjun N", "Grace O",
};

static const char *const sections[] = {
	"trump-russia-ukraine", "india-budget", "monsoon-forecast", "cricket-world-cup", "delhi-air-quality",
	"eu-energy-prices", "us-elections", "ai-regulation", "stock-market-today", "climate-summit",
};

enum kind {
	K_OK,
	K_LINK, K_EMAIL, K_PHONE, K_SHOUT, K_REPEAT, K_SUSPECT, K_RATE,
	K_SHORT, K_LONG, K_MALFORMED, K_MISSING, K_BANNED, K_DUPCONTENT,
	K_DUPID,
	K__COUNT
};

static const char *const kind_names[K__COUNT] = {
	"published", "link", "email", "phone", "shouting", "repeated_characters", "suspect_term", "rate_limited",
	"body_too_short", "body_too_long", "malformed_json", "missing_field", "banned_term", "duplicate_content",
	"duplicate_id",
};

/* Per mille of N; K_OK takes the rest. */
static const int kind_permille[K__COUNT] = {
	[K_LINK] = 20, [K_EMAIL] = 10, [K_PHONE] = 10, [K_SHOUT] = 10, [K_REPEAT] = 10, [K_SUSPECT] = 10,
	[K_RATE] = 10, [K_SHORT] = 15, [K_LONG] = 5, [K_MALFORMED] = 5, [K_MISSING] = 5, [K_BANNED] = 5,
	[K_DUPCONTENT] = 5, [K_DUPID] = 20,
};

static int kind_held(enum kind k) { return k >= K_LINK && k <= K_RATE; }
static int kind_rejected(enum kind k) { return k >= K_SHORT && k <= K_DUPCONTENT; }

/* One planned event. */
struct plan {
	uint8_t kind;
	uint8_t chatty;   /* the author is a chatty one (rate limit); not used as a reference */
	uint8_t referred; /* another event copies this one (duplicate id or content) */
	uint8_t intl;
	uint32_t ref;     /* K_DUPID / K_DUPCONTENT: the event copied */
	uint32_t author;
	uint32_t article;
	uint32_t parent;  /* 0: not a reply; else 1 + the event replied to */
	uint64_t body_seed;
	uint64_t id_hi, id_lo; /* comment_id bits */
};

/* ---- randomness ---------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t rnd(uint64_t *s, uint32_t n)
{
	return (uint32_t)(splitmix64(s) % n);
}

static uint64_t fresh_nonce(void)
{
	uint64_t v = 0;
	int fd = open("/dev/urandom", O_RDONLY);
	if (fd < 0 || read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
	}
	if (fd >= 0)
		close(fd);
	return v;
}

/* ---- the plan ------------------------------------------------------------------------------ */

static void make_plan(struct plan *p, uint32_t n, uint64_t seed, uint64_t nonce)
{
	uint64_t s = seed, ids = nonce;
	uint32_t next_author = 0;
	/* 1. kinds, articles, bodies, ids */
	for (uint32_t i = 0; i < n; i++) {
		struct plan *e = &p[i];
		memset(e, 0, sizeof(*e));
		uint32_t r = rnd(&s, 1000), acc = 0;
		e->kind = K_OK;
		for (int k = 1; k < K__COUNT; k++) {
			acc += (uint32_t)kind_permille[k];
			if (r < acc) {
				e->kind = (uint8_t)k;
				break;
			}
		}
		/* Half of the comments go to ten hot articles, the rest to 290 others. */
		e->article = rnd(&s, 2) ? rnd(&s, 10) : 10 + rnd(&s, 290);
		e->body_seed = splitmix64(&s);
		e->intl = rnd(&s, 6) == 0;
		e->id_hi = splitmix64(&ids);
		e->id_lo = splitmix64(&ids);
		e->parent = (i > 0 && rnd(&s, 5) == 0) ? 1 + rnd(&s, i) : 0;
	}
	/*
	 * 2. authors: new ones, or the previous author again (at most 3 comments). An author never
	 * comments twice on one article except where a copy is planned (step 4), so that
	 * duplicate_content comes only from the plan, however the random bodies fall.
	 */
	uint32_t last_author = 0, last_count = 0, last_articles[3] = {0};
	for (uint32_t i = 0; i < n; i++) {
		struct plan *e = &p[i];
		int seen = 0;
		for (uint32_t k = 0; k < last_count; k++)
			seen |= last_articles[k] == e->article;
		if (i > 0 && last_count < 3 && !seen && rnd(&s, 10) < 3) {
			e->author = last_author;
			last_articles[last_count++] = e->article;
		} else {
			e->author = last_author = next_author++;
			last_articles[0] = e->article;
			last_count = 1;
		}
	}
	/*
	 * 3. rate_limited: a chatty author posts the five nearest plain comments before this one, then
	 * this one, its sixth within the minute. Plain body, so the rate limit is its only reason.
	 */
	for (uint32_t i = 0; i < n; i++) {
		struct plan *e = &p[i];
		if (e->kind != K_RATE)
			continue;
		uint32_t found[5], nf = 0;
		for (uint32_t j = i; j-- > 0 && nf < 5 && i - j < 400;) {
			int same = p[j].article == e->article;
			for (uint32_t k = 0; k < nf; k++)
				same |= p[found[k]].article == p[j].article;
			if (p[j].kind == K_OK && !p[j].chatty && !same)
				found[nf++] = j;
		}
		if (nf < 5) {
			e->kind = K_OK;
			continue;
		}
		uint32_t a = next_author++;
		for (uint32_t k = 0; k < 5; k++) {
			p[found[k]].author = a;
			p[found[k]].chatty = 1;
		}
		e->author = a;
		e->chatty = 1;
	}
	/*
	 * 4. copies of earlier comments: a re-sent comment_id (duplicate) 4,000-8,000 events later, and
	 * the same author posting the same body on the same article again (duplicate_content).
	 */
	uint32_t dmin = n / 4 < 4000 ? n / 4 : 4000, dmax = n / 2 < 8000 ? n / 2 : 8000;
	for (uint32_t i = 0; i < n; i++) {
		struct plan *e = &p[i];
		if (e->kind != K_DUPID && e->kind != K_DUPCONTENT)
			continue;
		uint32_t d = e->kind == K_DUPID ? dmin + rnd(&s, dmax - dmin + 1) : 1 + rnd(&s, 2000);
		uint32_t j = i >= d ? i - d : 0, tries = 0;
		while (i >= d && tries < 200 && (p[j].kind != K_OK || p[j].chatty || p[j].referred)) {
			if (j == 0)
				break;
			j--;
			tries++;
		}
		if (i < d || p[j].kind != K_OK || p[j].chatty || p[j].referred) {
			e->kind = K_OK;
			continue;
		}
		p[j].referred = 1;
		e->ref = j;
		e->article = p[j].article;
		e->author = p[j].author;
		e->body_seed = p[j].body_seed;
		e->intl = p[j].intl;
		e->parent = p[j].parent;
		if (e->kind == K_DUPID) {
			e->id_hi = p[j].id_hi;
			e->id_lo = p[j].id_lo;
		}
	}
}

/* ---- events -------------------------------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_need(struct sbuf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->p = realloc(b->p, cap);
	if (!b->p) {
		fprintf(stderr, "loadgen: out of memory\n");
		exit(1);
	}
	b->cap = cap;
}

static void sb_add(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);
	sb_need(b, n);
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

/* Appends s as a JSON string body (without the quotes). */
static void sb_json(struct sbuf *b, const char *s)
{
	sb_need(b, 2 * strlen(s) + 8);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\') {
			b->p[b->len++] = '\\';
			b->p[b->len++] = *s;
		} else if (*s == '\n') {
			b->p[b->len++] = '\\';
			b->p[b->len++] = 'n';
		} else {
			b->p[b->len++] = *s;
		}
	}
	b->p[b->len] = '\0';
}

static void sb_fmt(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	sb_need(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void uuid_of(uint64_t hi, uint64_t lo, char out[37])
{
	snprintf(out, 37, "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-%01" PRIx64 "%03" PRIx64 "-%012" PRIx64,
		 hi >> 32, (hi >> 16) & 0xffff, hi & 0xfff, 8 + ((lo >> 62) & 3), (lo >> 48) & 0xfff,
		 lo & (uint64_t)0xffffffffffff);
}

static void article_of(uint32_t a, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s-2026-01-%02u-%03u", sections[a % ARRAY_LEN(sections)], 1 + a % 28, a);
}

/* The body of a planned event, as the reader typed it. */
static void make_body(const struct plan *e, struct sbuf *b)
{
	uint64_t s = e->body_seed;
	b->len = 0;
	sb_need(b, 0);
	b->p[0] = '\0';
	switch (e->kind) {
	case K_SHORT: {
		static const char *const shorts[] = {"Peace now!", "Well said.", "Agree 100%", "So true, sadly.",
						     "Nonsense.", "Finally some good news!", "Who cares?"};
		sb_add(b, shorts[rnd(&s, ARRAY_LEN(shorts))]);
		return;
	}
	case K_SHOUT:
		sb_add(b, "THIS IS ABSOLUTELY UNACCEPTABLE AND EVERYONE KNOWS IT. ");
		sb_add(b, rnd(&s, 2) ? "WHY IS NOBODY TALKING ABOUT THE PEOPLE WHO SUFFER?"
				     : "STOP THE WAR NOW, ENOUGH IS ENOUGH FOR EVERYONE INVOLVED!");
		return;
	default:
		break;
	}
	int n = 2 + (int)rnd(&s, 3);
	for (int k = 0; k < n; k++) {
		if (k)
			sb_add(b, " ");
		sb_add(b, bench_sentences[rnd(&s, ARRAY_LEN(bench_sentences))]);
	}
	if (e->intl && e->kind != K_LONG) {
		sb_add(b, " ");
		sb_add(b, bench_intl[rnd(&s, ARRAY_LEN(bench_intl))]);
	}
	switch (e->kind) {
	case K_LINK: {
		static const char *const links[] = {" More at https://example.com/analysis for anyone curious.",
						    " Full transcript on www.example.org/transcript if you want it.",
						    " See newsdigest.in/ukraine-talks for the background."};
		sb_add(b, links[rnd(&s, ARRAY_LEN(links))]);
		break;
	}
	case K_EMAIL:
		sb_add(b, " Write to me at reader@example.org if you disagree.");
		break;
	case K_PHONE:
		sb_add(b, " Call our helpline on +91 98765 43210 to volunteer.");
		break;
	case K_REPEAT:
		sb_add(b, " Sooooooooooooo tired of this.");
		break;
	case K_SUSPECT:
		sb_add(b, rnd(&s, 2) ? " What propaganda from both sides." : " Only an idiot would believe this deal.");
		break;
	case K_BANNED:
		sb_add(b, rnd(&s, 2) ? " Buy followers cheap, DM me." : " Claim your casino bonus today.");
		break;
	case K_LONG:
		while (b->len < 560) {
			sb_add(b, " ");
			sb_add(b, bench_sentences[rnd(&s, ARRAY_LEN(bench_sentences))]);
		}
		break;
	default:
		break;
	}
}

/* The event value for a planned event; stamp_us < 0 leaves out bench_sent_at_us. */
static void make_event(const struct plan *p, uint32_t i, int64_t submitted_us, int64_t stamp_us, struct sbuf *body,
		       struct sbuf *ev, uint64_t nonce)
{
	const struct plan *e = &p[i];
	char cid[37], parent[37], article[64], when[TIMEFMT_LEN];
	uuid_of(e->id_hi, e->id_lo, cid);
	article_of(e->article, article, sizeof(article));
	timefmt_format_utc(submitted_us - submitted_us % 1000, when);
	make_body(e, body);
	ev->len = 0;
	if (e->kind == K_MALFORMED) { /* truncated in transit */
		sb_fmt(ev, "{\"schema_version\":1,\"comment_id\":\"%s\",\"article_id\":\"%s\",\"author\":{\"id\":", cid,
		       article);
		return;
	}
	sb_fmt(ev, "{\"schema_version\":1,\"comment_id\":\"%s\",\"article_id\":\"%s\",", cid, article);
	if (e->kind != K_MISSING)
		sb_fmt(ev, "\"author\":{\"id\":\"reader-%016" PRIx64 "-%u\",\"display_name\":\"%s\"},", nonce, e->author,
		       names[e->author % ARRAY_LEN(names)]);
	sb_add(ev, "\"body\":\"");
	sb_json(ev, body->p);
	sb_fmt(ev, "\",\"submitted_at\":\"%s\",", when);
	if (e->parent) {
		const struct plan *q = &p[e->parent - 1];
		uuid_of(q->id_hi, q->id_lo, parent);
		sb_fmt(ev, "\"parent_id\":\"%s\"", parent);
	} else {
		sb_add(ev, "\"parent_id\":null");
	}
	if (stamp_us >= 0)
		sb_fmt(ev, ",\"bench_sent_at_us\":%" PRId64, stamp_us);
	sb_add(ev, "}");
}

/*
 * The schema Kafka Connect's JsonConverter (schemas.enable=true) needs with
 * each record: the comment-submitted event, every field optional but the key.
 */
static const char connect_schema[] =
	"{\"type\":\"struct\",\"name\":\"comment_submitted\",\"optional\":false,\"fields\":["
	"{\"field\":\"schema_version\",\"type\":\"int32\",\"optional\":true},"
	"{\"field\":\"comment_id\",\"type\":\"string\",\"optional\":false},"
	"{\"field\":\"article_id\",\"type\":\"string\",\"optional\":true},"
	"{\"field\":\"author\",\"type\":\"struct\",\"optional\":true,\"fields\":["
	"{\"field\":\"id\",\"type\":\"string\",\"optional\":true},"
	"{\"field\":\"display_name\",\"type\":\"string\",\"optional\":true}]},"
	"{\"field\":\"body\",\"type\":\"string\",\"optional\":true},"
	"{\"field\":\"submitted_at\",\"type\":\"string\",\"optional\":true},"
	"{\"field\":\"parent_id\",\"type\":\"string\",\"optional\":true}]}";

/* An event in Kafka Connect's form: the schema, and the event (without its stamp) as the payload. */
static void make_connect_record(const struct plan *e, const struct sbuf *ev, struct sbuf *out)
{
	out->len = 0;
	if (e->kind == K_MALFORMED) { /* the same broken bytes: the peer has to cope with them too */
		sb_need(out, ev->len + 1);
		memcpy(out->p, ev->p, ev->len);
		out->len = ev->len;
		out->p[out->len] = '\0';
		return;
	}
	sb_add(out, "{\"schema\":");
	sb_add(out, connect_schema);
	sb_add(out, ",\"payload\":");
	sb_need(out, ev->len + 2);
	/*
	 * submitted_at with milliseconds (it is whole milliseconds anyway): the
	 * peer's TimestampConverter parses with SimpleDateFormat, whose SSS would
	 * read six digits as a number of milliseconds.
	 */
	static const char key[] = "\"submitted_at\":\"";
	const char *at = memmem(ev->p, ev->len, key, sizeof(key) - 1);
	const char *cut = at ? memmem(at, ev->len - (size_t)(at - ev->p), "000Z\"", 5) : NULL;
	size_t head = cut ? (size_t)(cut - ev->p) : ev->len, skip = cut ? 3 : 0;
	memcpy(out->p + out->len, ev->p, head);
	memcpy(out->p + out->len + head, ev->p + head + skip, ev->len - head - skip);
	out->len += ev->len - skip;
	out->p[out->len] = '\0';
	sb_add(out, "}");
}

/* The stateless outcome the planned kind should get from decode + triage. */
static enum outcome intended_outcome(enum kind k)
{
	if (kind_held(k) && k != K_RATE)
		return OUTCOME_HOLD;
	if (kind_rejected(k) && k != K_DUPCONTENT)
		return OUTCOME_REJECT;
	return OUTCOME_PUBLISH;
}

/* ---- producing ----------------------------------------------------------------------------- */

static long delivered, delivered_connect, failed;
static const char *main_topic;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err) {
		if (failed++ < 5)
			fprintf(stderr, "loadgen: delivery failed: %s\n", rd_kafka_err2str(m->err));
	} else if (strcmp(rd_kafka_topic_name(m->rkt), main_topic) == 0) {
		delivered++;
	} else {
		delivered_connect++;
	}
}

static void produce(rd_kafka_t *rk, const char *topic, const char *key, const char *value, size_t len)
{
	rd_kafka_resp_err_t err = bench_kafka_produce(rk, topic, key, strlen(key), value, len);
	if (err) {
		fprintf(stderr, "loadgen: produce: %s\n", rd_kafka_err2str(err));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	const char *bootstrap = bench_bootstrap();
	const char *topic = NULL, *rules_file = NULL, *connect_topic = NULL;
	uint32_t n = 200000;
	double rate = 0, seconds = 0;
	uint64_t seed = 1;
	int stamp = 0, quiet = 0, opt;
	bench_prog = "loadgen";
	while ((opt = getopt(argc, argv, "t:b:n:r:d:s:R:C:Sq")) != -1) {
		switch (opt) {
		case 't': topic = optarg; break;
		case 'b': bootstrap = optarg; break;
		case 'n': n = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'r': rate = strtod(optarg, NULL); break;
		case 'd': seconds = strtod(optarg, NULL); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'R': rules_file = optarg; break;
		case 'C': connect_topic = optarg; break;
		case 'S': stamp = 1; break;
		case 'q': quiet = 1; break;
		default:
			fprintf(stderr, "usage: loadgen -t TOPIC [-b SERVERS] [-n N] [-r RATE -d SECONDS] [-s SEED] "
					"[-R RULES_FILE] [-C TOPIC] [-S] [-q]\n");
			return 2;
		}
	}
	if (!topic || n == 0 || rate < 0 || (rate > 0 && seconds <= 0)) {
		fprintf(stderr, "loadgen: need -t TOPIC, and -d SECONDS with -r RATE (see the header of loadgen.c)\n");
		return 2;
	}
	if (rate > 0) {
		n = (uint32_t)(rate * seconds + 0.5);
		stamp = 1;
	}
	bench_catch_signals();
	main_topic = topic;

	uint64_t nonce = fresh_nonce();
	struct plan *plan = calloc(n, sizeof(*plan));
	if (!plan) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 1;
	}
	make_plan(plan, n, seed, nonce);

	/* The self-check: every planned event against decode + triage (the stateless rules). */
	long misses = 0;
	if (rules_file) {
		struct rules rules;
		char err[512];
		rules_defaults(&rules);
		if (rules_load(rules_file, &rules, err, sizeof(err)) != 0) {
			fprintf(stderr, "loadgen: %s\n", err);
			return 2;
		}
		struct sbuf body = {0}, ev = {0};
		int64_t now = bench_now_us();
		for (uint32_t i = 0; i < n; i++) {
			make_event(plan, i, now, stamp ? now : -1, &body, &ev, nonce);
			struct comment c;
			struct verdict v;
			if (comment_decode(ev.p, ev.len, &c, &v) == OUTCOME_PUBLISH)
				rules_triage(&rules, &c, now, &v);
			if (v.outcome != intended_outcome((enum kind)plan[i].kind) && misses++ < 5)
				fprintf(stderr, "loadgen: event %u (%s) decided %d: %s\n", i, kind_names[plan[i].kind],
					(int)v.outcome, v.detail);
			comment_clear(&c);
		}
		free(body.p);
		free(ev.p);
		rules_free(&rules);
	}

	rd_kafka_conf_t *conf = bench_kafka_conf(bootstrap, "comment-ingest-loadgen");
	bench_kafka_conf_set(conf, "acks", "all");
	bench_kafka_conf_set(conf, "enable.idempotence", "true");
	bench_kafka_conf_set(conf, "compression.codec", "lz4");
	bench_kafka_conf_set(conf, "linger.ms", rate > 0 ? "2" : "20"); /* paced: a front end does not wait long */
	bench_kafka_conf_set(conf, "batch.size", "1000000");
	bench_kafka_conf_set(conf, "batch.num.messages", "10000");
	bench_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000");
	bench_kafka_conf_set(conf, "queue.buffering.max.kbytes", "1048576");
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_t *rk = bench_kafka_new(RD_KAFKA_PRODUCER, conf);

	struct sbuf body = {0}, ev = {0}, crec = {0};
	long sent = 0, counts[K__COUNT] = {0};
	size_t bytes = 0;
	double t0 = bench_mono_s(), next_report = t0 + 1;
	for (uint32_t i = 0; i < n && !bench_stop; i++) {
		if (rate > 0) { /* paced: event i is due at t0 + i / rate */
			double due = t0 + (double)i / rate;
			/* Sleep, never spin: a spinning generator took a third of a core from the service
			 * it measures. The stamp below is the real send time, so oversleeping is harmless. */
			for (double now = bench_mono_s(); now < due; now = bench_mono_s()) {
				rd_kafka_poll(rk, 0);
				struct timespec ts = {0, (long)((due - now) * 1e9)};
				nanosleep(&ts, NULL);
			}
		}
		int64_t t = bench_now_us();
		make_event(plan, i, t, stamp ? t : -1, &body, &ev, nonce);
		char article[64];
		article_of(plan[i].article, article, sizeof(article));
		produce(rk, topic, article, ev.p, ev.len);
		if (connect_topic) {
			if (stamp) /* the peer's copy carries no stamp: its schema has no such field */
				make_event(plan, i, t, -1, &body, &ev, nonce);
			make_connect_record(&plan[i], &ev, &crec);
			produce(rk, connect_topic, article, crec.p, crec.len);
		}
		sent++;
		bytes += ev.len;
		counts[plan[i].kind]++;
		if ((i & 255) == 0)
			rd_kafka_poll(rk, 0);
		if (!quiet && (i & 1023) == 0 && bench_mono_s() >= next_report) {
			next_report += 1;
			fprintf(stderr, "loadgen: %ld sent, %ld acknowledged\n", sent, delivered);
		}
	}
	double t_sent = bench_mono_s();
	while (rd_kafka_outq_len(rk) > 0 && bench_mono_s() - t_sent < 120)
		rd_kafka_flush(rk, 1000);
	double t1 = bench_mono_s();
	int left = rd_kafka_outq_len(rk);
	rd_kafka_destroy(rk);

	/* What the service must reach. Held and rejected follow the plan; duplicates are re-sent ids. */
	long published = counts[K_OK], held = 0, rejected = 0;
	for (int k = 0; k < K__COUNT; k++) {
		held += kind_held((enum kind)k) ? counts[k] : 0;
		rejected += kind_rejected((enum kind)k) ? counts[k] : 0;
	}
	printf("{\"topic\":\"%s\",\"mode\":\"%s\",\"rate\":%.0f,\"sent\":%ld,\"acknowledged\":%ld,\"failed\":%ld,"
	       "\"unacknowledged\":%d,\"bytes\":%zu,\"mean_event_bytes\":%zu,\"seconds\":%.3f,"
	       "\"events_per_second\":%.0f,\"connect_acknowledged\":%ld,\"self_check_misses\":%ld,\"author_nonce\":\"%016" PRIx64 "\","
	       "\"expected\":{\"consumed\":%ld,\"published\":%ld,\"held\":%ld,\"rejected\":%ld,\"duplicate\":%ld,"
	       "\"stored\":%ld,\"outputs\":%ld},\"kinds\":{",
	       topic, rate > 0 ? "paced" : "prefill", rate, sent, delivered, failed, left, bytes,
	       sent ? bytes / (size_t)sent : 0, t1 - t0, (double)sent / (t1 - t0), delivered_connect, misses, nonce, sent, published,
	       held, rejected, counts[K_DUPID], published + held, published + held + rejected);
	for (int k = 0; k < K__COUNT; k++)
		printf("%s\"%s\":%ld", k ? "," : "", kind_names[k], counts[k]);
	printf("}}\n");
	free(body.p);
	free(ev.p);
	free(crec.p);
	free(plan);
	return failed || left || bench_stop ? 1 : 0;
}
