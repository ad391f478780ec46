! The Fortran module errgroup_f: tasks, loops, the annotated `!$omp parallel
! do` loop, cancellation, error codes and messages. Workers only record;
! every check runs on the main program's thread after the wait. A failed
! check ends the program with `error stop` (nonzero exit status).
module test_bodies
  use, intrinsic :: iso_c_binding
  use errgroup_f
  implicit none
  integer, parameter :: NTASKS = 100, NLOOP = 20000
  integer(c_int) :: visited(0:NLOOP)
contains
  integer(c_int) function item(g, arg) bind(c)
    type(c_ptr), value :: g, arg
    integer(c_int), pointer :: id
    call c_f_pointer(arg, id)
    item = 0
    if (id == 37) item = errgroup_fail(g, 5_c_int, int(id, c_int64_t), 'item 37 failed')
  end function item

  integer(c_int) function submit(g, arg) bind(c)
    type(c_ptr), value :: g, arg
    integer(c_int), pointer :: ids(:)
    integer :: i
    call c_f_pointer(arg, ids, [NTASKS])
    submit = 0
    do i = 1, NTASKS
      if (errgroup_go(g, item, c_loc(ids(i))) /= 0) exit
    end do
  end function submit

  integer(c_int) function range_body(g, lo, hi, arg) bind(c)
    type(c_ptr), value :: g, arg
    integer(c_int64_t), value :: lo, hi
    integer(c_int64_t) :: i
    range_body = 0
    if (c_associated(arg)) return ! the test passes none
    do i = lo, hi - 1
      if (errgroup_skip(g, i)) return
      visited(i) = 1
      if (i == 500 .or. i == 700) then
        range_body = errgroup_fail(g, 9_c_int, i, 'range failed')
        return
      end if
    end do
  end function range_body

  integer(c_int) function returns_code(g, arg) bind(c)
    type(c_ptr), value :: g, arg
    returns_code = 3
    if (errgroup_canceled(g)) returns_code = 4
    if (c_associated(arg)) returns_code = 5
  end function returns_code
end module test_bodies

program test_fortran
  use, intrinsic :: iso_c_binding
  use errgroup_f
  use test_bodies
  implicit none
  type(errgroup_t), target :: g
  integer(c_int), target :: ids(NTASKS)
  integer(c_int) :: rc, code
  integer(c_int64_t) :: index
  character(len=64) :: message
  character(len=4) :: short
  integer :: i, nfail

  nfail = 0
  ids = [(i - 1, i = 1, NTASKS)]

  ! Codes are generated from errgroup.h; spot-check values and the storage.
  call check(ERRGROUP_EINVAL == -4001 .and. ERRGROUP_ECLOSED == -4007 .and. &
             ERRGROUP_EEXCEPTION == -4008, 'error code values')
  call check(errgroup_sizeof() <= c_sizeof(g), 'errgroup_t holds a group')

  ! Tasks through run: the failing task's code, ordinal index and message.
  call check(errgroup_init(g) == 0, 'init')
  rc = errgroup_run(g, submit, c_loc(ids))
  call check(rc == 5, 'run returns the task error')
  call check(errgroup_first_error(g, code, index, message) == 0, 'first_error')
  call check(code == 5 .and. index == 37 .and. message == 'item 37 failed', 'task error record')
  ! A message longer than the buffer is truncated, not overrun.
  call check(errgroup_first_error(g, code, index, short) == 0 .and. short == 'item', 'truncated message')
  call check(errgroup_canceled(g), 'canceled after error')
  call check(errgroup_wait(g) == 5, 'wait keeps the error')
  call check(errgroup_wait(g) == ERRGROUP_ECLOSED, 'second wait is ECLOSED')
  call check(errgroup_destroy(g) == 0, 'destroy')
  call check(errgroup_skip(g, 1), 'a destroyed group skips')
  call check(errgroup_destroy(g) == ERRGROUP_EINVAL, 'second destroy')

  ! errgroup_for in lowest-index mode: the lowest failing iteration wins and
  ! everything below it ran.
  visited = 0
  call check(errgroup_init(g) == 0, 'init for')
  call check(errgroup_set_mode(g, ERRGROUP_MODE_LOWEST_INDEX) == 0, 'set_mode')
  call check(errgroup_set_mode(g, 99_c_int) == ERRGROUP_EINVAL, 'bad mode')
  rc = errgroup_for(g, 0_c_int64_t, int(NLOOP, c_int64_t), range_body, c_null_ptr)
  call check(rc == 9, 'for returns the error')
  call check(errgroup_first_error(g, code, index, message) == 0, 'first_error for')
  call check(code == 9 .and. index == 500 .and. message == 'range failed', 'for error record')
  call check(all(visited(0:500) == 1), 'iterations below the failure ran')
  call check(errgroup_destroy(g) == 0, 'destroy for')
  ! Default-integer and mixed bounds, as in `errgroup_for(g, 1_c_int64_t, n + 1, ...)`.
  visited = 0
  i = 400
  call check(errgroup_init(g) == 0, 'init for mixed')
  call check(errgroup_for(g, 1_c_int64_t, i + 1, range_body, c_null_ptr) == 0, 'for, mixed bounds')
  call check(all(visited(1:400) == 1) .and. visited(0) == 0 .and. visited(401) == 0, 'mixed bounds range')
  call check(errgroup_for(g, 401, 451, range_body, c_null_ptr) == 0, 'for, default-integer bounds')
  call check(all(visited(401:450) == 1) .and. visited(451) == 0, 'default-integer bounds range')
  call check(errgroup_for(g, 10, 5, range_body, c_null_ptr) == ERRGROUP_EINVAL, 'for, begin > end')
  call check(errgroup_destroy(g) == 0, 'destroy for mixed')

  ! The annotated parallel do: lowest-index mode makes the reported cell
  ! deterministic; every cell below it ran.
  visited = 0
  call check(errgroup_init(g) == 0, 'init loop')
  call check(errgroup_set_mode(g, ERRGROUP_MODE_LOWEST_INDEX) == 0, 'set_mode loop')
  !$omp parallel do schedule(dynamic, 64)
  do i = 1, NLOOP
    if (errgroup_skip(g, i)) cycle
    visited(i) = 1
    if (i == 3000 .or. i == 15000) rc = errgroup_fail(g, 7_c_int, i, 'cell did not converge')
  end do
  !$omp end parallel do
  call check(errgroup_wait(g) == 7, 'annotated loop error')
  call check(errgroup_first_error(g, code, index, message) == 0, 'first_error loop')
  call check(index == 3000 .and. message == 'cell did not converge', 'annotated loop record')
  call check(all(visited(1:3000) == 1), 'cells below the failure ran')
  call check(errgroup_destroy(g) == 0, 'destroy loop')

  ! Cancel without an error; a task body's plain return code; the limit.
  call check(errgroup_init(g) == 0, 'init cancel')
  call check(.not. errgroup_canceled(g), 'fresh group not canceled')
  call check(.not. errgroup_skip(g, 1_c_int64_t), 'fresh group does not skip')
  call check(errgroup_cancel(g) == 0, 'cancel')
  call check(errgroup_canceled(g), 'canceled')
  call check(errgroup_skip(g, 1_c_int64_t), 'canceled group skips')
  call check(errgroup_go(g, returns_code, c_null_ptr) == ERRGROUP_ECANCELED, 'go after cancel')
  call check(errgroup_wait(g) == ERRGROUP_ECANCELED, 'wait after cancel')
  call check(errgroup_destroy(g) == 0, 'destroy cancel')

  call check(errgroup_init(g) == 0, 'init limit')
  call check(errgroup_set_limit(g, 2_c_int) == 0, 'set_limit')
  call check(errgroup_set_limit(g, -1_c_int) == ERRGROUP_EINVAL, 'bad limit')
  !$omp parallel
  !$omp single
  do i = 1, 10
    if (errgroup_go(g, returns_code, c_null_ptr) /= 0) exit
  end do
  rc = errgroup_wait(g)
  !$omp end single
  !$omp end parallel
  call check(rc == 3, 'plain return code is the error')
  call check(errgroup_first_error(g, code, index, message) == 0, 'first_error limit')
  call check(code == 3 .and. index >= 0 .and. index < 10 .and. message == '', 'plain return: an ordinal, no message')
  call check(errgroup_destroy(g) == 0, 'destroy limit')

  if (nfail /= 0) error stop 1
  print '(a)', 'test_fortran: all checks passed'

contains
  subroutine check(ok, what)
    logical, intent(in) :: ok
    character(*), intent(in) :: what
    if (.not. ok) then
      print '(2a)', 'check failed: ', what
      nfail = nfail + 1
    end if
  end subroutine check
end program test_fortran
