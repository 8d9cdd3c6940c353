/* irq.h — an interrupt line a device raises, decoupled from the irqchip that delivers it. */
#ifndef KILN_CORE_IRQ_H
#define KILN_CORE_IRQ_H

#include <stdint.h>

struct irq_line {
	/* Drive the line to level (0 or 1). Returns 0 or -errno. NULL: the line is not wired. */
	int (*set)(void *ctx, uint32_t gsi, int level);
	void *ctx;
	uint32_t gsi;
};

/* Drive the line; a no-op on an unwired line. */
static inline int irq_line_set(const struct irq_line *l, int level)
{
	return l->set ? l->set(l->ctx, l->gsi, level) : 0;
}

#endif
