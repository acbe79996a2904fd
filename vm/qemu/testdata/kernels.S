# Test kernels for machine_test.go: 32-bit code entered through PVH at
# pvhCodeAddr (0x100088). Each kernel is assembled on its own:
#   as --32 -o k.o k.S && ld -m elf_i386 -Ttext=0x100088 --oformat binary -o k.bin k.o
# and the bytes pasted into machine_test.go. putc/puts are shared text.

# ---- echo ----
.code32
.globl _start
_start:
  mov $0x80000, %esp
  mov $msg, %esi
  call puts
loop:
  mov $0x3fd, %dx
1: inb %dx, %al
  test $1, %al
  jz 1b
  mov $0x3f8, %dx
  inb %dx, %al
  cmp $'x', %al
  je exit
  mov %al, %bl
  call putc
  jmp loop
exit:
  mov $0x501, %dx
  mov $5, %al
  outb %al, %dx
3: hlt
  jmp 3b
putc:
  mov $0x3fd, %dx
2: inb %dx, %al
  test $0x20, %al
  jz 2b
  mov $0x3f8, %dx
  mov %bl, %al
  outb %al, %dx
  ret
puts:
  lodsb
  test %al, %al
  jz 4f
  mov %al, %bl
  call putc
  jmp puts
4: ret
msg: .asciz "READY\n"

# ---- triple ----
.code32
.globl _start
_start:
  mov $0x80000, %esp
  mov $msg, %esi
  call puts
  lidt idt
  int3
3: hlt
  jmp 3b
putc:
  mov $0x3fd, %dx
2: inb %dx, %al
  test $0x20, %al
  jz 2b
  mov $0x3f8, %dx
  mov %bl, %al
  outb %al, %dx
  ret
puts:
  lodsb
  test %al, %al
  jz 4f
  mov %al, %bl
  call putc
  jmp puts
4: ret
idt: .word 0
  .long 0
msg: .asciz "BOOT\n"

# ---- panic ----
.code32
.globl _start
_start:
  mov $0x80000, %esp
  mov $msg, %esi
  call puts
  mov $0x505, %dx
  mov $1, %al
  outb %al, %dx
3: hlt
  jmp 3b
putc:
  mov $0x3fd, %dx
2: inb %dx, %al
  test $0x20, %al
  jz 2b
  mov $0x3f8, %dx
  mov %bl, %al
  outb %al, %dx
  ret
puts:
  lodsb
  test %al, %al
  jz 4f
  mov %al, %bl
  call putc
  jmp puts
4: ret
msg: .asciz "PANIC\n"
