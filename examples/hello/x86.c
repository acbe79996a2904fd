/*
 * x86.c: drivers for the PC devices in x86.h. Each does the minimum the
 * demo needs; the comments name the datasheet registers they touch.
 */
#include "x86.h"

/* The interrupt stubs in boot.S. */
extern void irq0_entry(void);
extern void irq4_entry(void);
extern void spurious_entry(void);

#define KERNEL_CS	0x08
#define IDT_ENTRIES	(IRQ_VECTOR_BASE + 16)

/* An interrupt gate: the CPU clears IF on entry, so handlers never nest. */
struct idt_gate {
	uint16_t offset_low;
	uint16_t selector;
	uint8_t zero;
	uint8_t type;		/* 0x8E: present, ring 0, 32-bit interrupt gate */
	uint16_t offset_high;
} __attribute__((packed));

struct idt_desc {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed));

/*
 * Only the IRQ and spurious vectors are present. Every CPU exception
 * (vectors 0-31) has no handler on purpose: a kernel bug faults twice
 * more and becomes a triple fault, which ukdev shows as a crash.
 */
static struct idt_gate idt[IDT_ENTRIES];

static void idt_set(unsigned vector, void (*handler)(void))
{
	uint32_t addr = (uint32_t)handler;

	idt[vector] = (struct idt_gate){
		.offset_low = addr & 0xFFFF,
		.selector = KERNEL_CS,
		.type = 0x8E,
		.offset_high = addr >> 16,
	};
}

void idt_init(void)
{
	struct idt_desc desc = { sizeof(idt) - 1, (uint32_t)idt };

	idt_set(IRQ_VECTOR_BASE + IRQ_TIMER, irq0_entry);
	idt_set(IRQ_VECTOR_BASE + IRQ_COM1, irq4_entry);
	idt_set(IRQ_VECTOR_BASE + IRQ_SPURIOUS, spurious_entry);
	idt_set(IRQ_VECTOR_BASE + IRQ_SPURIOUS_APIC, spurious_entry);
	__asm__ volatile("lidt %0" : : "m"(desc));
}

void idt_clear(void)
{
	struct idt_desc desc = { 0, 0 };

	__asm__ volatile("lidt %0" : : "m"(desc));
}

void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

/*
 * Local APIC registers (memory-mapped at its reset address; paging is off,
 * so the physical address is used as is).
 */
#define LAPIC_BASE	0xFEE00000u
#define LAPIC_SVR	0x0F0	/* spurious vector; bit 8 enables the APIC */
#define LAPIC_LVT_LINT0	0x350
#define LAPIC_LVT_LINT1	0x360
#define LVT_EXTINT	0x700	/* deliver as from an 8259 */
#define LVT_NMI		0x400

static void lapic_write(uint32_t reg, uint32_t value)
{
	*(volatile uint32_t *)(LAPIC_BASE + reg) = value;
}

/*
 * lapic_virtual_wire lets 8259 interrupts through the local APIC, as a PC
 * BIOS does ("virtual wire" mode: LINT0 as ExtINT, LINT1 as NMI). SeaBIOS
 * (-M pc) already does this, but qboot (-M microvm) leaves LINT0 masked,
 * and then no timer or serial interrupt ever reaches the CPU.
 */
static void lapic_virtual_wire(void)
{
	lapic_write(LAPIC_SVR, 0x100 | (IRQ_VECTOR_BASE + IRQ_SPURIOUS_APIC));
	lapic_write(LAPIC_LVT_LINT0, LVT_EXTINT);
	lapic_write(LAPIC_LVT_LINT1, LVT_NMI);
}

/* 8259 PIC ports. */
#define PIC1_CMD	0x20
#define PIC1_DATA	0x21
#define PIC2_CMD	0xA0
#define PIC2_DATA	0xA1
#define PIC_EOI		0x20

void pic_init(void)
{
	/* ICW1-4: edge triggered, cascaded, vectors 0x20-0x2F, 8086 mode. */
	outb(PIC1_CMD, 0x11);
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, IRQ_VECTOR_BASE);
	outb(PIC2_DATA, IRQ_VECTOR_BASE + 8);
	outb(PIC1_DATA, 1 << 2);	/* slave on IRQ2 */
	outb(PIC2_DATA, 2);		/* slave identity */
	outb(PIC1_DATA, 0x01);
	outb(PIC2_DATA, 0x01);

	/* Mask everything but the timer and COM1 (a set bit masks). */
	outb(PIC1_DATA, (uint8_t)~((1 << IRQ_TIMER) | (1 << IRQ_COM1)));
	outb(PIC2_DATA, 0xFF);

	lapic_virtual_wire();
}

void pic_eoi(void)
{
	outb(PIC1_CMD, PIC_EOI);
}

/* 8254 PIT: channel 0 counts down from a divisor of its 1.193182 MHz clock. */
#define PIT_CH0		0x40
#define PIT_CMD		0x43
#define PIT_HZ		1193182u

void pit_init(uint32_t hz)
{
	uint32_t divisor = PIT_HZ / hz;

	if (divisor > 0xFFFF)
		divisor = 0xFFFF;	/* the slowest it goes: about 18.2 Hz */
	outb(PIT_CMD, 0x34);		/* channel 0, low then high byte, mode 2 (rate generator) */
	outb(PIT_CH0, divisor & 0xFF);
	outb(PIT_CH0, divisor >> 8);
}

/* 16550 UART registers, as offsets from COM1's base port. */
#define COM1		0x3F8
#define UART_DATA	0	/* receive / transmit buffer; divisor low with DLAB */
#define UART_IER	1	/* interrupt enable; divisor high with DLAB */
#define UART_FCR	2	/* FIFO control */
#define UART_LCR	3	/* line control */
#define UART_MCR	4	/* modem control */
#define UART_LSR	5	/* line status */
#define LSR_DATA_READY	0x01
#define LSR_THR_EMPTY	0x20

void uart_init(void)
{
	outb(COM1 + UART_IER, 0x00);	/* no interrupts yet */
	outb(COM1 + UART_LCR, 0x80);	/* DLAB: the next two bytes set the divisor */
	outb(COM1 + UART_DATA, 1);	/* 115200 baud */
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, 0x03);	/* 8 bits, no parity, 1 stop bit */
	outb(COM1 + UART_FCR, 0x07);	/* FIFOs on and cleared, interrupt at 1 byte */
	outb(COM1 + UART_MCR, 0x0B);	/* DTR, RTS, and OUT2, which gates IRQ4 on a PC */
}

void uart_enable_rx_interrupt(void)
{
	outb(COM1 + UART_IER, 0x01);	/* received data available */
}

void uart_putc(char c)
{
	while (!(inb(COM1 + UART_LSR) & LSR_THR_EMPTY))
		;
	outb(COM1 + UART_DATA, (uint8_t)c);
}

bool uart_getc(char *c)
{
	if (!(inb(COM1 + UART_LSR) & LSR_DATA_READY))
		return false;
	*c = (char)inb(COM1 + UART_DATA);
	return true;
}
