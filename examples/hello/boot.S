/*
 * boot.S: the two ways into the kernel, and the interrupt entry stubs.
 *
 * Both boot protocols leave the CPU in 32-bit protected mode with paging
 * off and flat segments, but neither promises a usable GDT or a stack, so
 * both entries load our own GDT and stack and then share one path to
 * kmain(protocol).
 */

#define MULTIBOOT_MAGIC		0x1BADB002
#define MULTIBOOT_FLAGS		0	/* ELF kernel: QEMU loads it by its program headers */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

#define BOOT_MULTIBOOT		1	/* keep in sync with main.c */
#define BOOT_PVH		2

#define KERNEL_CS		0x08	/* selectors into gdt below */
#define KERNEL_DS		0x10

#define STACK_SIZE		16384

/* Multiboot v1 header: must sit in the first 8 KiB of the file. */
	.section .multiboot, "a"
	.balign 4
	.long MULTIBOOT_MAGIC
	.long MULTIBOOT_FLAGS
	.long -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)

/* PVH entry note: name "Xen", type 18, value the 32-bit entry address. */
	.section .note.Xen, "a"
	.balign 4
	.long 4				/* name size, with the NUL */
	.long 4				/* value size */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long pvh_start

	.text
	.code32

/* Multiboot entry (the ELF entry point): eax = 0x2BADB002, ebx = info. */
	.globl _start
_start:
	movl $BOOT_MULTIBOOT, %esi
	jmp common_start

/* PVH entry (from the ELF note): ebx = hvm_start_info. */
	.globl pvh_start
pvh_start:
	movl $BOOT_PVH, %esi

common_start:
	cli
	cld
	lgdt gdt_desc
	ljmp $KERNEL_CS, $1f
1:	movw $KERNEL_DS, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss

	/*
	 * Zero .bss (the stack lives there too, so before using it): a
	 * reset does not clear guest RAM, and C expects zeroed globals.
	 */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb

	movl $stack_top, %esp
	xorl %ebp, %ebp
	pushl %esi			/* kmain(protocol) */
	call kmain
	/* kmain does not return; halt for good if it ever does. */
2:	cli
	hlt
	jmp 2b

/*
 * Interrupt stubs: save the registers C may clobber, call the handler,
 * restore, iret. The C handlers send the end-of-interrupt themselves.
 */
.macro irq_stub name, handler
	.globl \name
\name:
	pushl %eax
	pushl %ecx
	pushl %edx
	cld
	call \handler
	popl %edx
	popl %ecx
	popl %eax
	iret
.endm

	irq_stub irq0_entry, timer_interrupt
	irq_stub irq4_entry, serial_interrupt

/*
 * A spurious interrupt (8259 IRQ7, local APIC) must not be acknowledged:
 * just return.
 */
	.globl spurious_entry
spurious_entry:
	iret

/*
 * Flat 4 GiB code and data segments, 32-bit.
 */
	.section .rodata
	.balign 8
gdt:
	.quad 0				/* null descriptor */
	.quad 0x00CF9A000000FFFF	/* 0x08: code, base 0, limit 4 GiB */
	.quad 0x00CF92000000FFFF	/* 0x10: data, base 0, limit 4 GiB */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

	.bss
	.balign 16
stack_bottom:
	.skip STACK_SIZE
stack_top:

/* The kernel needs no executable stack; say so, or ld warns. */
	.section .note.GNU-stack, "", @progbits
