/* uart16550.c — a 16550A UART: register file, 16-byte receive FIFO, interrupts, fd transmit. */
#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/uart16550.h"
#include "util/log.h"

/* Register offsets in the 8-port window (DLL/DLM replace RBR/THR and IER when LCR.DLAB=1). */
enum { REG_DATA, REG_IER, REG_IIR_FCR, REG_LCR, REG_MCR, REG_LSR, REG_MSR, REG_SCR };

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* transmitter holding register empty */
#define IER_ELSI  0x04 /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK  0x0f

#define IIR_NONE 0x01
#define IIR_MSR	 0x00
#define IIR_THRE 0x02
#define IIR_RDA	 0x04
#define IIR_RLS	 0x06
#define IIR_CTI	 0x0c /* character timeout: data below the trigger level */
#define IIR_FIFO 0xc0 /* both bits set when the FIFOs are enabled (16550A) */

#define FCR_ENABLE   0x01
#define FCR_RX_RESET 0x02
#define FCR_DMA	     0x08
#define FCR_TRIGGER  0xc0

#define LCR_DLAB 0x80

#define MCR_DTR	 0x01
#define MCR_RTS	 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR	   0x01
#define LSR_OE	   0x02
#define LSR_THRE   0x20
#define LSR_TEMT   0x40
#define LSR_ERRORS 0x1e /* OE, PE, FE, BI: cleared by reading LSR */

#define MSR_DCTS   0x01
#define MSR_DDSR   0x02
#define MSR_TERI   0x04
#define MSR_DDCD   0x08
#define MSR_DELTAS 0x0f
#define MSR_CTS	   0x10
#define MSR_DSR	   0x20
#define MSR_RI	   0x40
#define MSR_DCD	   0x80

#define TX_EAGAIN_TRIES 10 /* polls of a full non-blocking out_fd before a byte is dropped */
#define TX_POLL_MS	100

struct uart16550 {
	pthread_mutex_t lock;	 /* guards everything below except tx_lock's data */
	pthread_mutex_t tx_lock; /* taken before `lock` is dropped: keeps out_fd writes in order */
	struct uart16550_config cfg;
	uint8_t ier, fcr, lcr, mcr, scr, dll, dlm;
	uint8_t lsr_errors; /* latched LSR error bits (only OE is ever produced) */
	uint8_t msr;	    /* status bits (7:4) and delta bits (3:0) */
	uint8_t rbr;	    /* the last byte read, returned again when the FIFO is empty */
	uint8_t rx[UART16550_FIFO];
	unsigned rx_head, rx_count;
	bool thr_ipending; /* THRE interrupt condition (cleared by an IIR read that reports it) */
	bool irq_level;	   /* what the line was last driven to */
	bool rx_was_full;  /* the FIFO filled up on the host side: call rx_space once drained */
	struct uart16550_stats stats;
	struct log_ratelimit rl;
};

static unsigned rx_capacity(const struct uart16550 *u)
{
	return (u->fcr & FCR_ENABLE) ? UART16550_FIFO : 1;
}

static unsigned rx_trigger(const struct uart16550 *u)
{
	static const unsigned level[4] = {1, 4, 8, 14};

	return level[(u->fcr & FCR_TRIGGER) >> 6];
}

static bool rx_push(struct uart16550 *u, uint8_t b)
{
	if (u->rx_count >= rx_capacity(u))
		return false;
	u->rx[(u->rx_head + u->rx_count) % UART16550_FIFO] = b;
	u->rx_count++;
	return true;
}

static uint8_t rx_pop(struct uart16550 *u)
{
	uint8_t b = u->rx[u->rx_head];

	u->rx_head = (u->rx_head + 1) % UART16550_FIFO;
	u->rx_count--;
	return b;
}

/* Empty the receive FIFO; returns true if the host side must now be told there is room. */
static bool rx_clear(struct uart16550 *u)
{
	bool notify = u->rx_was_full;

	u->rx_head = u->rx_count = 0;
	u->rx_was_full = false;
	return notify;
}

/* The highest-priority pending interrupt, as IIR bits 3:0 (datasheet table 4). */
static uint8_t iir_id(const struct uart16550 *u)
{
	if ((u->ier & IER_ELSI) && (u->lsr_errors & LSR_ERRORS))
		return IIR_RLS;
	if ((u->ier & IER_ERBFI) && u->rx_count) {
		/* No timer: data below the trigger level is reported at once as a timeout. */
		if ((u->fcr & FCR_ENABLE) && u->rx_count < rx_trigger(u))
			return IIR_CTI;
		return IIR_RDA;
	}
	if ((u->ier & IER_ETBEI) && u->thr_ipending)
		return IIR_THRE;
	if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTAS))
		return IIR_MSR;
	return IIR_NONE;
}

/* Drive the line on changes only. On PCs MCR.OUT2 gates the UART's interrupt onto the bus.
 * Called with the lock held: the line callback (KVM_IRQ_LINE) never re-enters the device, and
 * holding the lock keeps level changes from two threads in order. */
static void irq_update(struct uart16550 *u)
{
	bool level = iir_id(u) != IIR_NONE && (u->mcr & MCR_OUT2);
	int ret;

	if (level == u->irq_level)
		return;
	u->irq_level = level;
	ret = irq_line_set(&u->cfg.irq, level);
	if (ret < 0)
		log_warn_ratelimited(&u->rl, "%s: irq %u: %s", u->cfg.name, u->cfg.irq.gsi,
				     strerror(-ret));
}

/* Modem-status inputs: looped back from MCR in loopback mode, else a permanently ready modem. */
static uint8_t msr_inputs(const struct uart16550 *u)
{
	uint8_t m = u->mcr;

	if (!(m & MCR_LOOP))
		return MSR_CTS | MSR_DSR | MSR_DCD;
	return (m & MCR_RTS ? MSR_CTS : 0) | (m & MCR_DTR ? MSR_DSR : 0) |
	       (m & MCR_OUT1 ? MSR_RI : 0) | (m & MCR_OUT2 ? MSR_DCD : 0);
}

static void msr_update(struct uart16550 *u)
{
	uint8_t now = msr_inputs(u), old = u->msr & ~MSR_DELTAS, changed = now ^ old;
	uint8_t deltas = u->msr & MSR_DELTAS;

	if (changed & MSR_CTS)
		deltas |= MSR_DCTS;
	if (changed & MSR_DSR)
		deltas |= MSR_DDSR;
	if (changed & MSR_DCD)
		deltas |= MSR_DDCD;
	if ((old & MSR_RI) && !(now & MSR_RI)) /* trailing edge of ring indicator */
		deltas |= MSR_TERI;
	u->msr = now | deltas;
}

/* A byte transmitted in loopback mode arrives in the receiver at once. */
static void loopback_receive(struct uart16550 *u, uint8_t b)
{
	if (rx_push(u, b))
		return;
	/* Overrun: FIFO mode loses the new byte, 16450 mode overwrites the holding register. */
	if (!(u->fcr & FCR_ENABLE))
		u->rx[u->rx_head] = b;
	u->lsr_errors |= LSR_OE;
	u->stats.overruns++;
}

/* THR write; returns the byte to send to out_fd, or -1. */
static int thr_write(struct uart16550 *u, uint8_t b)
{
	/* Writing THR clears the THRE interrupt; the byte leaves at once and THR is empty again,
	 * so the interrupt comes back: a low-high pulse gives edge-triggered chips a new edge. */
	u->thr_ipending = false;
	irq_update(u);
	u->thr_ipending = true;
	if (u->mcr & MCR_LOOP) {
		loopback_receive(u, b);
		return -1;
	}
	u->stats.tx_bytes++;
	return u->cfg.out_fd >= 0 ? b : -1;
}

static void ier_write(struct uart16550 *u, uint8_t v)
{
	uint8_t old = u->ier;

	u->ier = v & IER_MASK;
	/* THR is always empty, so enabling ETBEI raises THRE (Linux's 8250 probe relies on it). */
	if ((u->ier & IER_ETBEI) && !(old & IER_ETBEI))
		u->thr_ipending = true;
}

/* FCR write; returns true if rx_space must be called. */
static bool fcr_write(struct uart16550 *u, uint8_t v)
{
	bool notify = false;

	/* Changing the FIFO enable bit clears the FIFOs; other bits only count with it set. */
	if ((v ^ u->fcr) & FCR_ENABLE)
		notify = rx_clear(u);
	if (!(v & FCR_ENABLE)) {
		u->fcr = 0;
		return notify;
	}
	if (v & FCR_RX_RESET)
		notify |= rx_clear(u);
	u->fcr = v & (FCR_ENABLE | FCR_DMA | FCR_TRIGGER);
	return notify;
}

static void mcr_write(struct uart16550 *u, uint8_t v)
{
	u->mcr = v & MCR_MASK;
	msr_update(u);
}

static uint8_t rbr_read(struct uart16550 *u, bool *notify)
{
	if (u->rx_count) {
		u->rbr = rx_pop(u);
		if (u->rx_count == 0 && u->rx_was_full) {
			u->rx_was_full = false;
			*notify = true;
		}
	}
	return u->rbr;
}

static uint8_t iir_read(struct uart16550 *u)
{
	uint8_t id = iir_id(u);

	if (id == IIR_THRE) /* reading IIR acknowledges THRE when it is the source */
		u->thr_ipending = false;
	return id | ((u->fcr & FCR_ENABLE) ? IIR_FIFO : 0);
}

static uint8_t lsr_read(struct uart16550 *u)
{
	uint8_t v = u->lsr_errors | LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0);

	u->lsr_errors = 0;
	return v;
}

static uint8_t msr_read(struct uart16550 *u)
{
	uint8_t v = u->msr;

	u->msr &= ~MSR_DELTAS;
	return v;
}

static uint8_t reg_read(struct uart16550 *u, unsigned reg, bool *notify)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case REG_DATA:
		return dlab ? u->dll : rbr_read(u, notify);
	case REG_IER:
		return dlab ? u->dlm : u->ier;
	case REG_IIR_FCR:
		return iir_read(u);
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		return lsr_read(u);
	case REG_MSR:
		return msr_read(u);
	default:
		return u->scr;
	}
}

/* Register write; returns the byte to transmit or -1; *notify set if rx_space is due. */
static int reg_write(struct uart16550 *u, unsigned reg, uint8_t v, bool *notify)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case REG_DATA:
		if (!dlab)
			return thr_write(u, v);
		u->dll = v;
		break;
	case REG_IER:
		if (dlab)
			u->dlm = v;
		else
			ier_write(u, v);
		break;
	case REG_IIR_FCR:
		*notify = fcr_write(u, v);
		break;
	case REG_LCR:
		u->lcr = v;
		break;
	case REG_MCR:
		mcr_write(u, v);
		break;
	case REG_SCR:
		u->scr = v;
		break;
	default:
		break; /* LSR and MSR writes (factory test) are ignored */
	}
	return -1;
}

static void rx_space_notify(struct uart16550 *u)
{
	if (u->cfg.rx_space)
		u->cfg.rx_space(u->cfg.rx_ctx);
}

static uint64_t uart_read(void *dev, uint64_t off, unsigned size)
{
	struct uart16550 *u = dev;
	bool notify = false;
	uint8_t v;

	(void)size;
	pthread_mutex_lock(&u->lock);
	v = reg_read(u, off & 7, &notify);
	irq_update(u);
	pthread_mutex_unlock(&u->lock);
	if (notify)
		rx_space_notify(u);
	return v;
}

/* Write one byte to out_fd; 0 or -errno. Waits a bounded time on a full non-blocking fd. */
static int fd_put(int fd, uint8_t b)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int tries = 0;
	ssize_t n;

	for (;;) {
		n = write(fd, &b, 1);
		if (n == 1)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if (tries++ == TX_EAGAIN_TRIES)
			return -EAGAIN;
		(void)poll(&p, 1, TX_POLL_MS);
	}
}

static void transmit(struct uart16550 *u, uint8_t b)
{
	int ret = fd_put(u->cfg.out_fd, b);

	if (ret == 0)
		return;
	__atomic_fetch_add(&u->stats.tx_errors, 1, __ATOMIC_RELAXED);
	log_warn_ratelimited(&u->rl, "%s: output: %s", u->cfg.name, strerror(-ret));
}

static void uart_write(void *dev, uint64_t off, uint64_t val, unsigned size)
{
	struct uart16550 *u = dev;
	bool notify = false;
	int tx;

	(void)size;
	pthread_mutex_lock(&u->lock);
	tx = reg_write(u, off & 7, (uint8_t)val, &notify);
	irq_update(u);
	if (tx >= 0)
		pthread_mutex_lock(&u->tx_lock); /* hand over: bytes reach out_fd in THR order */
	pthread_mutex_unlock(&u->lock);
	if (tx >= 0) {
		transmit(u, (uint8_t)tx);
		pthread_mutex_unlock(&u->tx_lock);
	}
	if (notify)
		rx_space_notify(u);
}

const struct io_ops uart16550_io_ops = {
    .name = "uart16550",
    .read = uart_read,
    .write = uart_write,
    .min_size = 1,
    .max_size = 1,
};

int uart16550_create(const struct uart16550_config *cfg, struct uart16550 **out)
{
	struct uart16550 *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	pthread_mutex_init(&u->lock, NULL);
	pthread_mutex_init(&u->tx_lock, NULL);
	u->cfg = *cfg;
	if (!u->cfg.name)
		u->cfg.name = "uart";
	u->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	u->dll = 12; /* 9600 baud, as firmware would leave it */
	u->msr = msr_inputs(u);
	*out = u;
	return 0;
}

void uart16550_destroy(struct uart16550 *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->tx_lock);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

size_t uart16550_receive(struct uart16550 *u, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&u->lock);
	if (u->mcr & MCR_LOOP) {
		/* Loopback disconnects the serial input: what arrives meanwhile is lost. */
		u->stats.rx_dropped += len;
		pthread_mutex_unlock(&u->lock);
		return len;
	}
	while (n < len && rx_push(u, buf[n]))
		n++;
	u->stats.rx_bytes += n;
	if (u->rx_count == rx_capacity(u))
		u->rx_was_full = true;
	irq_update(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

void uart16550_get_stats(struct uart16550 *u, struct uart16550_stats *s)
{
	pthread_mutex_lock(&u->lock);
	s->tx_bytes = u->stats.tx_bytes;
	s->rx_bytes = u->stats.rx_bytes;
	s->rx_dropped = u->stats.rx_dropped;
	s->overruns = u->stats.overruns;
	s->tx_errors = __atomic_load_n(&u->stats.tx_errors, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&u->lock);
}

/* --- state --- */

void uart16550_save(struct uart16550 *u, struct state_buf *b)
{
	pthread_mutex_lock(&u->lock);
	state_put_u8(b, u->ier);
	state_put_u8(b, u->fcr);
	state_put_u8(b, u->lcr);
	state_put_u8(b, u->mcr);
	state_put_u8(b, u->scr);
	state_put_u8(b, u->dll);
	state_put_u8(b, u->dlm);
	state_put_u8(b, u->lsr_errors);
	state_put_u8(b, u->msr);
	state_put_u8(b, u->rbr);
	state_put_u8(b, u->thr_ipending);
	state_put_u8(b, (uint8_t)u->rx_count);
	for (unsigned i = 0; i < u->rx_count; i++) /* in FIFO order */
		state_put_u8(b, u->rx[(u->rx_head + i) % UART16550_FIFO]);
	pthread_mutex_unlock(&u->lock);
}

/* Registers as loaded, before they replace the live ones. */
struct uart_image {
	uint8_t ier, fcr, lcr, mcr, scr, dll, dlm, lsr_errors, msr, rbr, thr, count;
	uint8_t rx[UART16550_FIFO];
};

_Static_assert(offsetof(struct uart_image, count) == 11, "12 single bytes, then the FIFO");

static const char *uart_image_check(const struct uart_image *m)
{
	unsigned cap = (m->fcr & FCR_ENABLE) ? UART16550_FIFO : 1;

	if (m->ier & ~IER_MASK)
		return "IER reserved bits set";
	if (m->fcr & ~(FCR_ENABLE | FCR_DMA | FCR_TRIGGER) || (m->fcr && !(m->fcr & FCR_ENABLE)))
		return "FCR value not one the chip keeps";
	if (m->mcr & ~MCR_MASK)
		return "MCR reserved bits set";
	if (m->lsr_errors & ~LSR_ERRORS)
		return "LSR error bits outside OE/PE/FE/BI";
	if (m->thr > 1)
		return "THRE flag not 0/1";
	if (m->count > cap)
		return "receive FIFO holds more than its capacity";
	return NULL;
}

int uart16550_load(struct uart16550 *u, struct state_buf *b, uint16_t version)
{
	struct uart_image m;
	const char *why;
	uint8_t *f = &m.ier;

	memset(&m, 0, sizeof(m));
	for (unsigned i = 0; i < 12; i++) /* ier .. count, in struct order */
		f[i] = state_get_u8(b);
	if (m.count <= UART16550_FIFO)
		state_get_bytes(b, m.rx, m.count);
	why = version != UART16550_STATE_VERSION ? "unknown section version"
	      : state_section_done(b)		 ? "section length wrong"
						 : uart_image_check(&m);
	if (why) {
		state_refuse(b, "%s: %s", u->cfg.name, why);
		return -EINVAL;
	}
	pthread_mutex_lock(&u->lock);
	u->ier = m.ier, u->fcr = m.fcr, u->lcr = m.lcr, u->mcr = m.mcr, u->scr = m.scr;
	u->dll = m.dll, u->dlm = m.dlm, u->lsr_errors = m.lsr_errors, u->msr = m.msr;
	u->rbr = m.rbr;
	u->thr_ipending = m.thr;
	memcpy(u->rx, m.rx, sizeof(u->rx));
	u->rx_head = 0;
	u->rx_count = m.count;
	u->rx_was_full = false;
	u->irq_level = false; /* a fresh line: drive it to what the registers say */
	irq_update(u);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

/* --- reset and the board entry --- */

void uart16550_reset(struct uart16550 *u)
{
	bool notify;

	pthread_mutex_lock(&u->lock);
	notify = u->rx_was_full;
	u->ier = u->fcr = u->lcr = u->mcr = u->scr = 0;
	u->dll = 12, u->dlm = 0;
	u->lsr_errors = 0;
	u->msr = msr_inputs(u);
	u->rbr = 0;
	u->rx_head = u->rx_count = 0;
	u->thr_ipending = false;
	u->rx_was_full = false;
	irq_update(u);
	pthread_mutex_unlock(&u->lock);
	if (notify)
		rx_space_notify(u);
}

static int entry_save(void *obj, struct state_buf *b)
{
	uart16550_save(obj, b);
	return 0;
}

static int entry_load(void *obj, struct state_buf *b, uint16_t version)
{
	return uart16550_load(obj, b, version);
}

static const struct device_counter counters[] = {
    DEVICE_COUNTER(struct uart16550_stats, tx_bytes),
    DEVICE_COUNTER(struct uart16550_stats, rx_bytes),
    DEVICE_COUNTER(struct uart16550_stats, overruns),
    DEVICE_COUNTER(struct uart16550_stats, tx_errors),
    DEVICE_COUNTER(struct uart16550_stats, rx_dropped),
};

static void entry_stats(void *obj, const char *name, device_stat_fn fn, void *ctx)
{
	struct uart16550_stats s;

	uart16550_get_stats(obj, &s);
	device_report_counters(DEVICE_COUNTERS(counters), &s, name, fn, ctx);
}

static void entry_reset(void *obj)
{
	uart16550_reset(obj);
}

static void entry_destroy(void *obj)
{
	uart16550_destroy(obj);
}

const struct device_ops uart16550_device_ops = {
    .kind = "uart16550",
    .save = entry_save,
    .load = entry_load,
    .stats = entry_stats,
    .reset = entry_reset,
    .destroy = entry_destroy,
};
