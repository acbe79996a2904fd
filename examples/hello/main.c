/*
 * main.c: hello, ukdev's example unikernel.
 *
 * It prints a banner on COM1, then runs a tiny shell on the same serial
 * port: it echoes what is typed, and answers one command per line. Timer
 * and serial receive are interrupt-driven; between interrupts the CPU
 * halts, so an idle VM costs next to no host CPU.
 *
 * Edit BANNER (tests rewrite that line), save, and ukdev reboots the VM
 * with the new kernel.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "x86.h"

#define BANNER "hello from ukdev"

/* How boot.S was entered; keep in sync with boot.S. */
#define BOOT_MULTIBOOT	1
#define BOOT_PVH	2

#define TIMER_HZ	100	/* PIT interrupts per second */
#define IRQS_PER_TICK	10	/* so ticks grows every 100 ms */

#define LINE_MAX	128	/* longest command line, with its NUL */
#define FLOOD_DEFAULT_SECONDS	10
#define FLOOD_MAX_SECONDS	3600
#define RX_RING_SIZE	256	/* received bytes not yet handled; a power of two */

/*
 * ticks counts 100 ms periods since boot. It and stats are global and not
 * static so that their symbols are in the ELF for ukdev's memory view.
 */
volatile uint32_t ticks;

/* stats holds counters a host-side tool can read from guest memory. */
struct stats {
	uint32_t boot_protocol;	/* BOOT_MULTIBOOT or BOOT_PVH */
	uint32_t timer_irqs;	/* IRQ0 interrupts */
	uint32_t serial_irqs;	/* IRQ4 interrupts */
	uint32_t bytes_in;	/* bytes received on COM1 */
	uint32_t bytes_out;	/* bytes sent on COM1 */
	uint32_t bytes_dropped;	/* bytes received while the ring was full */
	uint32_t lines_read;	/* lines ended by \r, \n or \r\n */
	uint32_t commands_run;	/* lines naming a known command */
	uint32_t unknown_commands; /* lines naming anything else */
};

volatile struct stats stats;

/*
 * last_command points at the last line the shell ran, in the line
 * editor's buffer (NULL before the first): a pointer to follow in ukdev's
 * memory panel.
 */
const char *volatile last_command;

/*
 * Received bytes pass from the serial interrupt to the main loop through
 * this ring. rx_head only moves in the interrupt and rx_tail only in the
 * main loop; both count up forever and wrap, so head - tail is the fill.
 */
static volatile char rx_ring[RX_RING_SIZE];
static volatile uint32_t rx_head;
static volatile uint32_t rx_tail;

/* timer_interrupt runs on IRQ0 (called from boot.S). */
void timer_interrupt(void)
{
	static uint32_t irqs_this_tick;

	stats.timer_irqs++;
	if (++irqs_this_tick == IRQS_PER_TICK) {
		irqs_this_tick = 0;
		ticks++;
	}
	pic_eoi();
}

/* serial_interrupt runs on IRQ4 (called from boot.S): it drains COM1. */
void serial_interrupt(void)
{
	char c;

	stats.serial_irqs++;
	while (uart_getc(&c)) {
		stats.bytes_in++;
		if (rx_head - rx_tail == RX_RING_SIZE) {
			stats.bytes_dropped++;
			continue;
		}
		rx_ring[rx_head % RX_RING_SIZE] = c;
		rx_head++;
	}
	pic_eoi();
}

/*
 * next_byte returns the next received byte, halting the CPU until one
 * arrives.
 */
static char next_byte(void)
{
	char c;

	cli();
	while (rx_head == rx_tail) {
		wait_for_interrupt();
		cli();
	}
	c = rx_ring[rx_tail % RX_RING_SIZE];
	rx_tail++;
	sti();
	return c;
}

static void put_char(char c)
{
	uart_putc(c);
	stats.bytes_out++;
}

static void put_str(const char *s)
{
	while (*s)
		put_char(*s++);
}

/* put_line prints s and a serial line end. */
static void put_line(const char *s)
{
	put_str(s);
	put_str("\r\n");
}

/* put_u64 prints v in decimal without 64-bit division (no libgcc). */
static void put_u64(uint64_t v)
{
	static const uint64_t powers[] = {
		10000000000000000000ULL, 1000000000000000000ULL, 100000000000000000ULL,
		10000000000000000ULL, 1000000000000000ULL, 100000000000000ULL,
		10000000000000ULL, 1000000000000ULL, 100000000000ULL, 10000000000ULL,
		1000000000ULL, 100000000ULL, 10000000ULL, 1000000ULL, 100000ULL,
		10000ULL, 1000ULL, 100ULL, 10ULL, 1ULL,
	};
	bool started = false;

	for (size_t i = 0; i < sizeof(powers) / sizeof(powers[0]); i++) {
		char digit = '0';

		while (v >= powers[i]) {
			v -= powers[i];
			digit++;
		}
		if (digit != '0' || started || powers[i] == 1) {
			started = true;
			put_char(digit);
		}
	}
}

static void put_u32(uint32_t v)
{
	char digits[10];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		put_char(digits[--n]);
}

/* put_stat prints one "name: value" line. */
static void put_stat(const char *name, uint32_t value)
{
	put_str(name);
	put_str(": ");
	put_u32(value);
	put_str("\r\n");
}

static bool str_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/*
 * parse_u32 reads a decimal number that is all of s into *v; false when
 * s is empty, holds anything but digits, or exceeds max.
 */
static bool parse_u32(const char *s, uint32_t max, uint32_t *v)
{
	uint32_t n = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		n = n * 10 + (uint32_t)(*s - '0');
		if (n > max)
			return false;
	}
	*v = n;
	return true;
}

static void cmd_help(void)
{
	put_line("commands:");
	put_line("  echo <text>  print <text>");
	put_line("  exit <n>     exit QEMU with status (n<<1)|1 through isa-debug-exit, n in 0-127");
	put_line("  panic        signal a guest panic through pvpanic, then halt");
	put_line("  crash        fault with no interrupt table (a triple fault)");
	put_line("  stats        print ticks and counters");
	put_line("  flood [s]    write numbered lines as fast as the UART takes them for s seconds (default 10), ^C stops");
	put_line("  help         print this list");
}

static void cmd_exit(const char *arg)
{
	uint32_t code;

	if (!parse_u32(arg, 127, &code)) {
		put_str("exit: want a number from 0 to 127, got '");
		put_str(arg);
		put_line("'");
		return;
	}
	outb(DEBUG_EXIT_PORT, (uint8_t)code);
	/* Still here: QEMU has no isa-debug-exit device at that port. */
	put_line("exit: no isa-debug-exit device at port 0x501");
}

static void cmd_panic(void)
{
	/* pvpanic reads back its feature bits; bit 0 is "panicked". */
	uint8_t features = inb(PVPANIC_PORT);

	put_line("panic: guest panic requested, halting");
	if (features == 0xFF || !(features & 1))
		put_line("panic: no pvpanic device at port 0x505, the host will not know");
	outb(PVPANIC_PORT, 1);
	halt_forever();
}

static void cmd_crash(void)
{
	put_line("crash: faulting with no interrupt table (triple fault)");
	cli();
	idt_clear();
	/*
	 * int3 cannot be delivered (#GP), nor can the #GP (#DF), nor the #DF:
	 * the CPU shuts down, and QEMU resets the VM or pauses it.
	 */
	__asm__ volatile("int3");
	halt_forever();
}

static void cmd_stats(void)
{
	put_stat("ticks", ticks);
	put_str("boot: ");
	put_line(stats.boot_protocol == BOOT_PVH ? "pvh" : "multiboot");
	put_stat("timer_irqs", stats.timer_irqs);
	put_stat("serial_irqs", stats.serial_irqs);
	put_stat("bytes_in", stats.bytes_in);
	put_stat("bytes_out", stats.bytes_out);
	put_stat("bytes_dropped", stats.bytes_dropped);
	put_stat("lines_read", stats.lines_read);
	put_stat("commands_run", stats.commands_run);
	put_stat("unknown_commands", stats.unknown_commands);
}

/*
 * flood_interrupted reports whether a ^C arrived; it drops every other
 * byte received meanwhile.
 */
static bool flood_interrupted(void)
{
	bool interrupted = false;

	cli();
	while (rx_head != rx_tail) {
		if (rx_ring[rx_tail % RX_RING_SIZE] == 0x03)
			interrupted = true;
		rx_tail++;
	}
	sti();
	return interrupted;
}

/*
 * cmd_flood writes lines to COM1 as fast as it takes them for the given
 * seconds (timed by ticks), then says how many bytes it wrote. The flood
 * is every byte after the "flood: writing" line up to the "flood: wrote"
 * line: 64-byte lines, each an 8-digit line number (from 0, wrapping at
 * 10^8), a space, the same 53 characters and \r\n, so a reader can check
 * that none is missing or damaged.
 */
static void cmd_flood(const char *arg)
{
	static const char pattern[] = " abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0\r\n";
	uint32_t seconds = FLOOD_DEFAULT_SECONDS;
	uint32_t start, elapsed, line = 0;
	uint64_t bytes = 0;

	if (*arg && !parse_u32(arg, FLOOD_MAX_SECONDS, &seconds)) {
		put_str("flood: want seconds from 0 to 3600, got '");
		put_str(arg);
		put_line("'");
		return;
	}
	put_str("flood: writing for ");
	put_u32(seconds);
	put_line(" s; ^C stops it");
	start = ticks;
	while (ticks - start < seconds * 10 && !flood_interrupted()) {
		char digits[8];
		uint32_t n = line;

		for (int i = 7; i >= 0; i--) {
			digits[i] = (char)('0' + n % 10);
			n /= 10;
		}
		for (int i = 0; i < 8; i++)
			put_char(digits[i]);
		put_str(pattern);
		bytes += 8 + sizeof(pattern) - 1;
		line = (line + 1) % 100000000;
	}
	elapsed = ticks - start;
	put_str("flood: wrote ");
	put_u64(bytes);
	put_str(" bytes in ");
	put_u32(elapsed / 10);
	put_char('.');
	put_u32(elapsed % 10);
	put_line(" s");
}

/*
 * run_command runs one line: its first word is the command, the rest
 * (after the spaces that follow the word) its argument. It edits line.
 */
static void run_command(char *line)
{
	char *word, *arg;

	while (*line == ' ')
		line++;
	if (!*line)
		return;
	word = line;
	while (*line && *line != ' ')
		line++;
	if (*line)
		*line++ = '\0';
	while (*line == ' ')
		line++;
	arg = line;

	stats.commands_run++;
	if (str_eq(word, "echo"))
		put_line(arg);
	else if (str_eq(word, "exit"))
		cmd_exit(arg);
	else if (str_eq(word, "panic"))
		cmd_panic();
	else if (str_eq(word, "crash"))
		cmd_crash();
	else if (str_eq(word, "stats"))
		cmd_stats();
	else if (str_eq(word, "help"))
		cmd_help();
	else if (str_eq(word, "flood"))
		cmd_flood(arg);
	else {
		stats.commands_run--;
		stats.unknown_commands++;
		put_str("unknown command: ");
		put_line(word);
	}
}

/*
 * The line editor: what a serial terminal needs, no more. Typed
 * characters are echoed; backspace and DEL erase one; ^C drops the line;
 * \r, \n and \r\n each end one line; escape sequences (arrow keys) and
 * other control bytes are ignored; a full line takes no more characters.
 */
struct line_editor {
	char buf[LINE_MAX];
	size_t len;
	bool after_cr;	/* the last byte was \r: a \n now ends nothing */
	int escape;	/* 0 outside an escape sequence, 1 after ESC, 2 after ESC [ */
};

static void line_input(struct line_editor *ed, char c)
{
	bool after_cr = ed->after_cr;

	ed->after_cr = (c == '\r');
	if (ed->escape == 1) {
		ed->escape = (c == '[') ? 2 : 0;
		return;
	}
	if (ed->escape == 2) {
		if (c >= 0x40 && c <= 0x7E)	/* the final byte of ESC [ ... */
			ed->escape = 0;
		return;
	}

	switch (c) {
	case '\n':
		if (after_cr)
			return;
		/* fall through */
	case '\r':
		put_str("\r\n");
		ed->buf[ed->len] = '\0';
		ed->len = 0;
		stats.lines_read++;
		last_command = ed->buf;
		run_command(ed->buf);
		return;
	case '\b':
	case 0x7F:
		if (ed->len > 0) {
			ed->len--;
			put_str("\b \b");
		}
		return;
	case 0x03:	/* ^C */
		put_str("^C\r\n");
		ed->len = 0;
		return;
	case 0x1B:	/* ESC */
		ed->escape = 1;
		return;
	}
	if (c < 0x20 || c > 0x7E || ed->len == LINE_MAX - 1)
		return;
	ed->buf[ed->len++] = c;
	put_char(c);
}

/* kmain is called by boot.S, once, with the boot protocol used. */
void kmain(uint32_t boot_protocol)
{
	static struct line_editor ed;

	stats.boot_protocol = boot_protocol;
	uart_init();
	put_line(BANNER);
	put_line("type 'help' for commands");

	idt_init();
	pic_init();
	pit_init(TIMER_HZ);
	uart_enable_rx_interrupt();

	for (;;)
		line_input(&ed, next_byte());
}
