#include "textflag.h"

// clone(2) with the child on a stack of its own, sharing the caller's
// memory (CLONE_VM), as glibc's clone() does: the child calls FN(arg) there
// and never returns; if it did, it exits with status 127. Two entry points,
// one per child function, so that the linker sees no call cycle
// (joinChild clones the init).
#define RAWCLONE(FN) \
	MOVQ	flags+0(FP), DI \
	MOVQ	stack+8(FP), SI \
	MOVQ	$0, DX \
	MOVQ	$0, R10 \
	MOVQ	$0, R8 \
	MOVQ	arg+16(FP), R12 /* the syscall clobbers CX and R11 only */ \
	MOVL	$56, AX /* SYS_clone */ \
	SYSCALL \
	CMPQ	AX, $0 \
	JEQ	child \
	CMPQ	AX, $0xfffffffffffff001 \
	JLS	ok \
	NEGQ	AX \
	MOVQ	$-1, pid+24(FP) \
	MOVQ	AX, errno+32(FP) \
	RET \
ok: \
	MOVQ	AX, pid+24(FP) \
	MOVQ	$0, errno+32(FP) \
	RET \
child: \
	MOVQ	SI, SP \
	SUBQ	$64, SP \
	ANDQ	$~15, SP \
	MOVQ	R12, 0(SP) \
	CALL	FN(SB) \
	MOVL	$127, DI \
	MOVL	$231, AX /* SYS_exit_group */ \
	SYSCALL \
	JMP	-3(PC)

// func rawCloneInit(flags, stack, arg uintptr) (pid, errno uintptr)
TEXT ·rawCloneInit(SB),NOSPLIT|NOFRAME,$0-40
	RAWCLONE(·initChild)

// func rawCloneJoin(flags, stack, arg uintptr) (pid, errno uintptr)
TEXT ·rawCloneJoin(SB),NOSPLIT|NOFRAME,$0-40
	RAWCLONE(·joinChild)
