/* test_uart16550.c — the 16550A UART driven through its bus handlers, as a guest would. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/uart16550.h"

enum {
	RBR = 0,
	THR = 0,
	DLL = 0,
	IER = 1,
	DLM = 1,
	IIR = 2,
	FCR = 2,
	LCR = 3,
	MCR = 4,
	LSR = 5,
	MSR = 6,
	SCR = 7
};

#define OUT2 0x08
#define LOOP 0x10

struct fake_irq {
	int level;
	unsigned sets;	   /* calls to the callback */
	unsigned bad_sets; /* calls that did not change the level */
	uint32_t gsi;
};

struct fx {
	struct uart16550 *u;
	int pipe[2];
	int own_fd; /* an out_fd the test opened instead of the pipe, or -1 */
	struct fake_irq irq;
	unsigned rx_space_calls;
};

static int irq_set(void *ctx, uint32_t gsi, int level)
{
	struct fake_irq *i = ctx;

	if (level == i->level)
		i->bad_sets++;
	i->level = level;
	i->gsi = gsi;
	i->sets++;
	return 0;
}

static void on_rx_space(void *ctx)
{
	struct fx *f = ctx;

	f->rx_space_calls++;
}

/* out_fd: -2 for the pipe's write end, else the fd to use (closed at teardown if >= 0). */
static struct fx *fx_new(int out_fd)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct uart16550_config c = {.name = "test"};

	assert_non_null(f);
	assert_int_equal(pipe2(f->pipe, O_NONBLOCK), 0);
	f->own_fd = out_fd;
	c.out_fd = out_fd == -2 ? f->pipe[1] : out_fd;
	c.irq = (struct irq_line){.set = irq_set, .ctx = &f->irq, .gsi = 4};
	c.rx_space = on_rx_space;
	c.rx_ctx = f;
	assert_int_equal(uart16550_create(&c, &f->u), 0);
	return f;
}

static int setup(void **state)
{
	*state = fx_new(-2);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	assert_int_equal(f->irq.bad_sets, 0); /* the line is driven on changes only */
	uart16550_destroy(f->u);
	close(f->pipe[0]);
	close(f->pipe[1]);
	if (f->own_fd >= 0)
		close(f->own_fd);
	free(f);
	return 0;
}

static uint8_t rd(struct fx *f, unsigned reg)
{
	uint64_t v = uart16550_io_ops.read(f->u, reg, 1);

	assert_true(v <= 0xff);
	return (uint8_t)v;
}

static void wr(struct fx *f, unsigned reg, uint8_t v)
{
	uart16550_io_ops.write(f->u, reg, v, 1);
}

static size_t rx(struct fx *f, const char *s)
{
	return uart16550_receive(f->u, (const uint8_t *)s, strlen(s));
}

static void test_ops_sizes(void **state)
{
	(void)state;
	assert_int_equal(uart16550_io_ops.min_size, 1);
	assert_int_equal(uart16550_io_ops.max_size, 1);
}

static void test_transmit(void **state)
{
	struct fx *f = *state;
	struct uart16550_stats s;
	char buf[8] = {0};

	wr(f, THR, 'h');
	wr(f, THR, 'i');
	assert_int_equal(read(f->pipe[0], buf, sizeof(buf)), 2);
	assert_string_equal(buf, "hi");
	uart16550_get_stats(f->u, &s);
	assert_int_equal(s.tx_bytes, 2);
	assert_int_equal(s.tx_errors, 0);
	assert_int_equal(rd(f, LSR) & 0x60, 0x60); /* THR empty again at once */
}

static void test_transmit_error_counted(void **state)
{
	struct fx *f = fx_new(open("/dev/null", O_RDONLY)); /* writes fail with EBADF */
	struct uart16550_stats s;

	(void)state;
	wr(f, THR, 'x');
	uart16550_get_stats(f->u, &s);
	assert_int_equal(s.tx_bytes, 1);
	assert_int_equal(s.tx_errors, 1);
	teardown((void **)&f);
}

static void test_transmit_full_pipe(void **state)
{
	struct fx *f = *state;
	struct uart16550_stats s;
	char junk[4096];

	memset(junk, 'j', sizeof(junk));
	while (write(f->pipe[1], junk, sizeof(junk)) > 0)
		;
	wr(f, THR, 'x'); /* waits about a second, then drops the byte */
	uart16550_get_stats(f->u, &s);
	assert_int_equal(s.tx_errors, 1);
}

static void test_discard_without_fd(void **state)
{
	struct fx *f = fx_new(-1);
	struct uart16550_stats s;

	(void)state;
	wr(f, THR, 'x');
	uart16550_get_stats(f->u, &s);
	assert_int_equal(s.tx_errors, 0);
	teardown((void **)&f);
}

static void test_divisor_latch(void **state)
{
	struct fx *f = *state;
	char c;

	wr(f, LCR, 0x83);
	wr(f, DLL, 0x01);
	wr(f, DLM, 0x02);
	assert_int_equal(rd(f, DLL), 0x01);
	assert_int_equal(rd(f, DLM), 0x02);
	wr(f, LCR, 0x03);
	assert_int_equal(rd(f, LCR), 0x03);
	assert_int_equal(rd(f, IER), 0x00); /* IER was not touched by the DLM write */
	wr(f, IER, 0xff);
	assert_int_equal(rd(f, IER), 0x0f); /* upper bits do not exist */
	wr(f, IER, 0);
	wr(f, LCR, 0x80);
	assert_int_equal(rd(f, DLL), 0x01);
	assert_int_equal(rd(f, DLM), 0x02);
	assert_int_equal(read(f->pipe[0], &c, 1), -1); /* the DLL write was not transmitted */
	assert_int_equal(errno, EAGAIN);
}

static void test_scratch(void **state)
{
	struct fx *f = *state;

	for (unsigned v = 0; v < 256; v += 17) {
		wr(f, SCR, (uint8_t)v);
		assert_int_equal(rd(f, SCR), v);
	}
}

static void test_reset_state(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(f, IER), 0);
	assert_int_equal(rd(f, IIR), 0x01);
	assert_int_equal(rd(f, LCR), 0);
	assert_int_equal(rd(f, MCR), 0);
	assert_int_equal(rd(f, LSR), 0x60);
	assert_int_equal(rd(f, MSR), 0xb0); /* CTS, DSR, DCD asserted, no deltas */
	assert_int_equal(f->irq.sets, 0);
}

static void test_lsr(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(f, LSR), 0x60);
	assert_int_equal(rx(f, "a"), 1);
	assert_int_equal(rd(f, LSR), 0x61);
	assert_int_equal(rd(f, RBR), 'a');
	assert_int_equal(rd(f, LSR), 0x60);
	assert_int_equal(rd(f, RBR), 'a'); /* empty: the last byte again, no change */
	assert_int_equal(rd(f, LSR), 0x60);
}

static void test_holding_register_without_fifo(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rx(f, "abc"), 1);
	assert_int_equal(rx(f, "bc"), 0);
	assert_int_equal(rd(f, RBR), 'a');
	assert_int_equal(rx(f, "bc"), 1);
	assert_int_equal(rd(f, RBR), 'b');
	assert_int_equal(f->rx_space_calls, 2);
}

static void test_fifo_receive(void **state)
{
	struct fx *f = *state;
	struct uart16550_stats s;
	const char *in = "0123456789abcdefXYZ";

	wr(f, FCR, 0x01);
	assert_int_equal(rd(f, IIR) & 0xc0, 0xc0);
	assert_int_equal(rx(f, in), 16);
	assert_int_equal(rx(f, "XYZ"), 0);
	for (int i = 0; i < 16; i++) {
		assert_true(rd(f, LSR) & 0x01);
		assert_int_equal(rd(f, RBR), (uint8_t)in[i]);
	}
	assert_false(rd(f, LSR) & 0x03); /* empty, no overrun: the host held back */
	uart16550_get_stats(f->u, &s);
	assert_int_equal(s.rx_bytes, 16);
	assert_int_equal(s.overruns, 0);
}

static void test_rx_interrupt(void **state)
{
	struct fx *f = *state;

	wr(f, IER, 0x01);
	assert_int_equal(rx(f, "a"), 1);
	assert_int_equal(f->irq.level, 0); /* OUT2 clear: the interrupt is not gated out */
	assert_int_equal(rd(f, IIR), 0x04);
	wr(f, MCR, OUT2);
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(f->irq.gsi, 4);
	assert_int_equal(rd(f, RBR), 'a');
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(rd(f, IIR), 0x01);

	wr(f, FCR, 0x01);
	assert_int_equal(rx(f, "bcd"), 3);
	assert_int_equal(f->irq.level, 1);
	rd(f, RBR);
	rd(f, RBR);
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(rd(f, RBR), 'd');
	assert_int_equal(f->irq.level, 0); /* lowered once drained */
	wr(f, IER, 0);
	assert_int_equal(rx(f, "e"), 1);
	assert_int_equal(f->irq.level, 0);
	wr(f, IER, 0x01);
	assert_int_equal(f->irq.level, 1);
	wr(f, MCR, 0);
	assert_int_equal(f->irq.level, 0);
}

static void test_trigger_level(void **state)
{
	struct fx *f = *state;

	wr(f, FCR, 0xc1); /* trigger at 14 */
	wr(f, IER, 0x01);
	wr(f, MCR, OUT2);
	assert_int_equal(rx(f, "12345"), 5);
	assert_int_equal(rd(f, IIR), 0xcc); /* below the trigger: character timeout */
	assert_int_equal(rx(f, "678901234"), 9);
	assert_int_equal(rd(f, IIR), 0xc4);
	assert_int_equal(f->irq.level, 1);
	wr(f, FCR, 0x41); /* trigger at 4; the FIFO keeps its bytes */
	assert_int_equal(rd(f, IIR), 0xc4);
	assert_true(rd(f, LSR) & 0x01);
}

static void test_thre_interrupt(void **state)
{
	struct fx *f = *state;
	char buf[4];

	wr(f, MCR, OUT2);
	assert_int_equal(f->irq.level, 0);
	wr(f, IER, 0x02);
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(rd(f, IIR), 0x02);
	assert_int_equal(f->irq.level, 0); /* reading IIR acknowledged it */
	assert_int_equal(rd(f, IIR), 0x01);
	wr(f, IER, 0x02); /* still enabled: no new edge */
	assert_int_equal(f->irq.level, 0);
	wr(f, IER, 0x00);
	wr(f, IER, 0x02); /* re-enabled: raised again (Linux's THRE probe) */
	assert_int_equal(f->irq.level, 1);
	f->irq.sets = 0;
	wr(f, THR, 'z'); /* cleared by the write, raised again as THR empties: a pulse */
	assert_int_equal(f->irq.sets, 2);
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(rd(f, IIR), 0x02);
	assert_int_equal(f->irq.level, 0);
	wr(f, THR, 'y');
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(read(f->pipe[0], buf, sizeof(buf)), 2);
}

static void test_iir_priority(void **state)
{
	struct fx *f = *state;

	wr(f, FCR, 0x01);
	wr(f, IER, 0x0f);
	wr(f, MCR, LOOP | OUT2); /* CTS and DSR drop, DCD stays: modem-status deltas */
	for (int i = 0; i < 17; i++)
		wr(f, THR, (uint8_t)('a' + i)); /* the 17th overruns the FIFO */
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(rd(f, IIR), 0xc6);	   /* receiver line status first */
	assert_int_equal(rd(f, LSR) & 0x03, 0x03); /* OE and DR; reading clears OE */
	assert_int_equal(rd(f, IIR), 0xc4);	   /* then received data */
	for (int i = 0; i < 16; i++)
		assert_int_equal(rd(f, RBR), 'a' + i); /* the overrunning byte was lost */
	assert_int_equal(rd(f, IIR), 0xc2);	       /* then THR empty (read acknowledges) */
	assert_int_equal(rd(f, IIR), 0xc0);	       /* then modem status */
	assert_int_equal(rd(f, MSR) & 0x0f, 0x03);     /* DCTS, DDSR */
	assert_int_equal(rd(f, IIR), 0xc1);
	assert_int_equal(f->irq.level, 0);
}

static void test_loopback(void **state)
{
	struct fx *f = *state;
	struct uart16550_stats s;
	char c;

	wr(f, MCR, LOOP);
	assert_int_equal(rd(f, MSR) & 0xf0, 0x00); /* inputs follow MCR outputs, all clear */
	wr(f, THR, 'A');
	assert_int_equal(read(f->pipe[0], &c, 1), -1); /* nothing left the UART */
	assert_int_equal(rd(f, LSR) & 0x01, 0x01);
	assert_int_equal(rd(f, RBR), 'A');
	wr(f, THR, 'B');
	wr(f, THR, 'C'); /* 16450 mode: overwrites the holding register */
	assert_int_equal(rd(f, LSR) & 0x03, 0x03);
	assert_int_equal(rd(f, RBR), 'C');

	wr(f, MCR, LOOP | 0x0f); /* DTR RTS OUT1 OUT2 -> DSR CTS RI DCD */
	assert_int_equal(rd(f, MSR), 0xf0 | 0x0b);
	wr(f, MCR, LOOP | 0x0b); /* RI falls: trailing-edge delta */
	assert_int_equal(rd(f, MSR), 0xb0 | 0x04);
	assert_int_equal(rx(f, "host"), 4); /* serial input disconnected: dropped */
	assert_false(rd(f, LSR) & 0x01);
	wr(f, MCR, 0);
	assert_int_equal(rd(f, MSR), 0xb0); /* out of loopback: a ready modem, no change */
	uart16550_get_stats(f->u, &s);
	assert_int_equal(s.rx_dropped, 4);
	assert_int_equal(s.overruns, 1);
	assert_int_equal(s.tx_bytes, 0);
}

static void test_fcr_reset(void **state)
{
	struct fx *f = *state;

	wr(f, FCR, 0x01);
	assert_int_equal(rx(f, "hello"), 5);
	wr(f, FCR, 0x03);
	assert_false(rd(f, LSR) & 0x01);
	assert_int_equal(rx(f, "abc"), 3);
	wr(f, FCR, 0x00); /* leaving FIFO mode clears it too */
	assert_false(rd(f, LSR) & 0x01);
	assert_int_equal(rd(f, IIR) & 0xc0, 0);
	assert_int_equal(rx(f, "xy"), 1);
	wr(f, FCR, 0x02); /* ignored without the enable bit */
	assert_true(rd(f, LSR) & 0x01);
}

static void test_rx_space(void **state)
{
	struct fx *f = *state;

	wr(f, FCR, 0x01);
	assert_int_equal(rx(f, "0123456789"), 10);
	for (int i = 0; i < 10; i++)
		rd(f, RBR);
	assert_int_equal(f->rx_space_calls, 0); /* never full: nobody waits */
	assert_int_equal(rx(f, "0123456789abcdefgh"), 16);
	for (int i = 0; i < 15; i++)
		rd(f, RBR);
	assert_int_equal(f->rx_space_calls, 0);
	rd(f, RBR);
	assert_int_equal(f->rx_space_calls, 1);
	rd(f, RBR);
	assert_int_equal(f->rx_space_calls, 1);
	assert_int_equal(rx(f, "0123456789abcdefgh"), 16);
	wr(f, FCR, 0x03); /* a FIFO reset makes room too */
	assert_int_equal(f->rx_space_calls, 2);
}

#define STREAM_LEN 100000

struct stream {
	struct uart16550 *u;
	sem_t space;
};

static void stream_space(void *ctx)
{
	struct stream *st = ctx;

	sem_post(&st->space);
}

/* The host side: offer the byte sequence, waiting for rx_space whenever the FIFO is full. */
static void *stream_feed(void *arg)
{
	struct stream *st = arg;
	uint8_t buf[64];
	size_t sent = 0;

	while (sent < STREAM_LEN) {
		size_t n = STREAM_LEN - sent < sizeof(buf) ? STREAM_LEN - sent : sizeof(buf);
		size_t took;

		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)((sent + i) * 31);
		took = uart16550_receive(st->u, buf, n);
		if (took == 0)
			sem_wait(&st->space);
		sent += took;
	}
	return NULL;
}

static void test_flow_control_threads(void **state)
{
	struct stream st;
	struct uart16550_config c = {.name = "stream", .out_fd = -1, .rx_space = stream_space};
	pthread_t t;
	size_t got = 0;

	(void)state;
	c.rx_ctx = &st;
	assert_int_equal(sem_init(&st.space, 0, 0), 0);
	assert_int_equal(uart16550_create(&c, &st.u), 0);
	uart16550_io_ops.write(st.u, FCR, 0x81, 1);
	assert_int_equal(pthread_create(&t, NULL, stream_feed, &st), 0);
	while (got < STREAM_LEN) { /* the guest side polls LSR.DR and reads RBR */
		if (!(uart16550_io_ops.read(st.u, LSR, 1) & 0x01))
			continue;
		assert_int_equal(uart16550_io_ops.read(st.u, RBR, 1), (uint8_t)(got * 31));
		got++;
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	uart16550_destroy(st.u);
	sem_destroy(&st.space);
}

/* xorshift: reproducible pseudo-random register traffic */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void check_invariants(struct fx *f)
{
	int level = f->irq.level;
	uint8_t mcr = rd(f, MCR), iir = rd(f, IIR), lsr = rd(f, LSR), id = iir & 0x0f;

	assert_int_equal(mcr & 0xe0, 0);
	assert_int_equal(iir & 0x30, 0);
	assert_true((iir & 0xc0) == 0 || (iir & 0xc0) == 0xc0);
	assert_true(id == 0x01 || id == 0x00 || id == 0x02 || id == 0x04 || id == 0x06 ||
		    id == 0x0c);
	/* the line was high exactly when an interrupt was pending and OUT2 let it through */
	assert_int_equal(level, !(iir & 0x01) && (mcr & OUT2));
	assert_int_equal(lsr & 0xe0, 0x60);
	assert_int_equal(rd(f, IER) & 0xf0, 0);
}

static void test_hostile(void **state)
{
	struct fx *f = fx_new(open("/dev/null", O_WRONLY));
	uint32_t seed = 0x2545f491;
	uint8_t buf[40];

	(void)state;
	for (int i = 0; i < 200000; i++) {
		uint32_t r = rnd(&seed);
		unsigned reg = r & 7, op = (r >> 3) & 7;
		uint8_t v = (uint8_t)(r >> 8);

		if (op < 3) {
			wr(f, reg, v);
		} else if (op < 6) {
			rd(f, reg);
		} else if (op == 6) {
			size_t n = (r >> 16) % sizeof(buf);

			memset(buf, v, n);
			bool loop = rd(f, MCR) & LOOP;
			size_t took = uart16550_receive(f->u, buf, n);

			assert_true(loop ? took == n : took <= UART16550_FIFO); /* loop: dropped */
		} else {
			wr(f, LCR, v & 0x7f); /* make IER and RBR reachable again */
			check_invariants(f);
		}
	}
	assert_true(f->irq.sets > 1000); /* the line really moved */
	teardown((void **)&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ops_sizes),
	    cmocka_unit_test_setup_teardown(test_reset_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transmit, setup, teardown),
	    cmocka_unit_test(test_transmit_error_counted),
	    cmocka_unit_test_setup_teardown(test_transmit_full_pipe, setup, teardown),
	    cmocka_unit_test(test_discard_without_fd),
	    cmocka_unit_test_setup_teardown(test_divisor_latch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scratch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lsr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_holding_register_without_fifo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fifo_receive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_interrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_trigger_level, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thre_interrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_iir_priority, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fcr_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_space, setup, teardown),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_flow_control_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
