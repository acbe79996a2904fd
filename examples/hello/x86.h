/*
 * x86.h: the little bit of PC hardware the kernel drives: port I/O, the
 * interrupt table, the 8259 PIC, the 8254 PIT and the COM1 UART.
 */
#ifndef HELLO_X86_H
#define HELLO_X86_H

#include <stdbool.h>
#include <stdint.h>

/* I/O ports of the devices QEMU adds with -device. */
#define DEBUG_EXIT_PORT	0x501	/* isa-debug-exit,iobase=0x501: write v, QEMU exits (v<<1)|1 */
#define PVPANIC_PORT	0x505	/* pvpanic (ISA): write 1, QEMU raises GUEST_PANICKED */

/* IRQ lines on the master 8259, and the vectors they are remapped to. */
#define IRQ_TIMER	0
#define IRQ_COM1	4
#define IRQ_SPURIOUS	7	/* what the 8259 sends for an interrupt that vanished */
#define IRQ_SPURIOUS_APIC 15	/* the local APIC's spurious vector; the slave 8259 stays masked */
#define IRQ_VECTOR_BASE	0x20

static inline void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t value;

	__asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

static inline void cli(void)
{
	__asm__ volatile("cli" : : : "memory");
}

static inline void sti(void)
{
	__asm__ volatile("sti" : : : "memory");
}

/*
 * wait_for_interrupt enables interrupts and halts until one arrives.
 * Call it with interrupts disabled after finding nothing to do: sti only
 * takes effect after the next instruction, so an interrupt that fires in
 * between still wakes the hlt instead of being missed.
 */
static inline void wait_for_interrupt(void)
{
	__asm__ volatile("sti; hlt" : : : "memory");
}

/* halt_forever stops the CPU for good (interrupts off). */
__attribute__((noreturn)) void halt_forever(void);

/* idt_init installs the interrupt table: the timer, COM1 and the spurious vectors. */
void idt_init(void);

/*
 * idt_clear loads an empty interrupt table, so that the next exception
 * has nowhere to go and becomes a triple fault.
 */
void idt_clear(void);

/*
 * pic_init remaps the 8259 to IRQ_VECTOR_BASE, unmasks the timer and COM1,
 * and routes the 8259 through the local APIC.
 */
void pic_init(void);

/* pic_eoi acknowledges an interrupt from the master 8259. */
void pic_eoi(void);

/* pit_init makes the 8254 channel 0 interrupt hz times a second. */
void pit_init(uint32_t hz);

/* uart_init sets COM1 to 115200 8N1 with its FIFO, receive interrupt off. */
void uart_init(void);

/* uart_enable_rx_interrupt makes COM1 raise IRQ4 when a byte arrives. */
void uart_enable_rx_interrupt(void);

/* uart_putc writes one byte to COM1, waiting for room in the transmitter. */
void uart_putc(char c);

/* uart_getc reads one received byte into *c; false when none is waiting. */
bool uart_getc(char *c);

#endif
