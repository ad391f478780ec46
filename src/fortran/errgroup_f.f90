! Module errgroup_f: omp-errgroup for Fortran through iso_c_binding.
!
! type(errgroup_t) is opaque storage for the C group (1024 bytes, aligned to
! 8; errgroup_init checks it against errgroup_sizeof()). A group must not be
! copied or moved while initialised: declare it with the target attribute and
! do not assign it. Callbacks are bind(c) functions that receive the group as
! type(c_ptr), value; errgroup_go, errgroup_fail, errgroup_cancel,
! errgroup_canceled and errgroup_skip accept either form. Indices are
! integer(c_int64_t) (errgroup_fail and errgroup_skip also take a default
! integer, the usual `do` variable). Every function returns what its C
! namesake returns (see errgroup.h): 0 or an error code.
!
! errgroup_skip(g, i) is the Fortran form of ERRGROUP_LOOP_CHECK: it reads
! the group's poll word inline (one relaxed atomic load, no call into C) and
! asks errgroup_canceled_at only when a slow bit is set. The layout it relies
! on is asserted in src/foreign.c.
module errgroup_f
  use, intrinsic :: iso_c_binding
  implicit none
  private

  ! ERRGROUP_E* codes, generated at build time from errgroup.h's X-macro list.
  include 'errgroup_codes.inc'

  ! Modes (errgroup_set_mode). Not ERRGROUP_FIRST_ERROR: Fortran ignores case,
  ! and that name would clash with the function errgroup_first_error.
  integer(c_int), parameter, public :: ERRGROUP_MODE_FIRST_ERROR = 0_c_int
  integer(c_int), parameter, public :: ERRGROUP_MODE_LOWEST_INDEX = 1_c_int
  integer(c_int64_t), parameter, public :: ERRGROUP_NO_INDEX = -1_c_int64_t
  integer, parameter, public :: ERRGROUP_MESSAGE_MAX = 256

  ! The slow bits of the poll word (ERRGROUP__POLL_SLOW in errgroup.h).
  integer(c_int), parameter :: POLL_SLOW = 7_c_int

  ! Opaque storage for a C errgroup. `poll` aliases the C group's first field.
  type, bind(c), public :: errgroup_t
    private
    integer(c_int) :: poll = 0_c_int
    integer(c_int) :: reserved0 = 0_c_int
    integer(c_int64_t) :: reserved(127) = 0_c_int64_t
  end type errgroup_t

  type, bind(c) :: c_error_t
    integer(c_int) :: code
    integer(c_int64_t) :: index
    character(kind=c_char) :: message(ERRGROUP_MESSAGE_MAX)
  end type c_error_t

  abstract interface
    ! A task or run body: 0 on success, any other value is an error code.
    integer(c_int) function errgroup_task_fn(g, arg) bind(c)
      import :: c_int, c_ptr
      type(c_ptr), value :: g, arg
    end function errgroup_task_fn
    ! A loop body over the half-open chunk [lo, hi).
    integer(c_int) function errgroup_range_fn(g, lo, hi, arg) bind(c)
      import :: c_int, c_int64_t, c_ptr
      type(c_ptr), value :: g, arg
      integer(c_int64_t), value :: lo, hi
    end function errgroup_range_fn
  end interface
  public :: errgroup_task_fn, errgroup_range_fn

  interface
    integer(c_size_t) function c_sizeof_group() bind(c, name='errgroup_sizeof')
      import :: c_size_t
    end function c_sizeof_group
    integer(c_int) function c_init(g) bind(c, name='errgroup_init')
      import :: c_int, c_ptr
      type(c_ptr), value :: g
    end function c_init
    integer(c_int) function c_destroy(g) bind(c, name='errgroup_destroy')
      import :: c_int, c_ptr
      type(c_ptr), value :: g
    end function c_destroy
    integer(c_int) function c_go(g, fn, arg) bind(c, name='errgroup_go')
      import :: c_int, c_ptr, c_funptr
      type(c_ptr), value :: g, arg
      type(c_funptr), value :: fn
    end function c_go
    integer(c_int) function c_wait(g) bind(c, name='errgroup_wait')
      import :: c_int, c_ptr
      type(c_ptr), value :: g
    end function c_wait
    integer(c_int) function c_run(g, fn, arg) bind(c, name='errgroup_run')
      import :: c_int, c_ptr, c_funptr
      type(c_ptr), value :: g, arg
      type(c_funptr), value :: fn
    end function c_run
    integer(c_int) function c_for(g, b, e, fn, arg) bind(c, name='errgroup_for')
      import :: c_int, c_int64_t, c_ptr, c_funptr
      type(c_ptr), value :: g, arg
      integer(c_int64_t), value :: b, e
      type(c_funptr), value :: fn
    end function c_for
    integer(c_int) function c_fail_str(g, code, index, message) bind(c, name='errgroup_fail_str')
      import :: c_int, c_int64_t, c_ptr, c_char
      type(c_ptr), value :: g
      integer(c_int), value :: code
      integer(c_int64_t), value :: index
      character(kind=c_char) :: message(*)
    end function c_fail_str
    integer(c_int) function c_cancel(g) bind(c, name='errgroup_cancel')
      import :: c_int, c_ptr
      type(c_ptr), value :: g
    end function c_cancel
    integer(c_int) function c_canceled(g) bind(c, name='errgroup_canceled')
      import :: c_int, c_ptr
      type(c_ptr), value :: g
    end function c_canceled
    integer(c_int) function c_canceled_at(g, index) bind(c, name='errgroup_canceled_at')
      import :: c_int, c_int64_t, c_ptr
      type(c_ptr), value :: g
      integer(c_int64_t), value :: index
    end function c_canceled_at
    integer(c_int) function c_first_error(g, out) bind(c, name='errgroup_first_error')
      import :: c_int, c_ptr, c_error_t
      type(c_ptr), value :: g
      type(c_error_t) :: out
    end function c_first_error
    integer(c_int) function c_set_limit(g, n) bind(c, name='errgroup_set_limit')
      import :: c_int, c_ptr
      type(c_ptr), value :: g
      integer(c_int), value :: n
    end function c_set_limit
    integer(c_int) function c_set_mode(g, mode) bind(c, name='errgroup_set_mode')
      import :: c_int, c_ptr
      type(c_ptr), value :: g
      integer(c_int), value :: mode
    end function c_set_mode
  end interface

  interface errgroup_go
    module procedure go_t, go_p
  end interface errgroup_go
  interface errgroup_for
    module procedure for_ll, for_li, for_il, for_ii
  end interface errgroup_for
  interface errgroup_fail
    module procedure fail_t, fail_p, fail_t32, fail_p32
  end interface errgroup_fail
  interface errgroup_cancel
    module procedure cancel_t, cancel_p
  end interface errgroup_cancel
  interface errgroup_canceled
    module procedure canceled_t, canceled_p
  end interface errgroup_canceled
  interface errgroup_skip
    module procedure skip_t, skip_p, skip_t32, skip_p32
  end interface errgroup_skip

  public :: errgroup_init, errgroup_destroy, errgroup_go, errgroup_wait, errgroup_run, &
            errgroup_for, errgroup_fail, errgroup_cancel, errgroup_canceled, &
            errgroup_first_error, errgroup_set_limit, errgroup_set_mode, errgroup_skip, &
            errgroup_sizeof

contains

  ! sizeof(errgroup) in the linked library.
  integer(c_size_t) function errgroup_sizeof()
    errgroup_sizeof = c_sizeof_group()
  end function errgroup_sizeof

  ! ERRGROUP_EINVAL if the storage is too small for the linked library.
  integer(c_int) function errgroup_init(g)
    type(errgroup_t), target, intent(inout) :: g
    if (c_sizeof_group() > c_sizeof(g)) then
      errgroup_init = ERRGROUP_EINVAL
      return
    end if
    errgroup_init = c_init(c_loc(g))
  end function errgroup_init

  integer(c_int) function errgroup_destroy(g)
    type(errgroup_t), target, intent(inout) :: g
    errgroup_destroy = c_destroy(c_loc(g))
  end function errgroup_destroy

  integer(c_int) function go_t(g, task, arg)
    type(errgroup_t), target, intent(inout) :: g
    procedure(errgroup_task_fn) :: task
    type(c_ptr), intent(in) :: arg
    go_t = c_go(c_loc(g), c_funloc(task), arg)
  end function go_t

  integer(c_int) function go_p(g, task, arg)
    type(c_ptr), intent(in) :: g
    procedure(errgroup_task_fn) :: task
    type(c_ptr), intent(in) :: arg
    go_p = c_go(g, c_funloc(task), arg)
  end function go_p

  integer(c_int) function errgroup_wait(g)
    type(errgroup_t), target, intent(inout) :: g
    errgroup_wait = c_wait(c_loc(g))
  end function errgroup_wait

  integer(c_int) function errgroup_run(g, body, arg)
    type(errgroup_t), target, intent(inout) :: g
    procedure(errgroup_task_fn) :: body
    type(c_ptr), intent(in) :: arg
    errgroup_run = c_run(c_loc(g), c_funloc(body), arg)
  end function errgroup_run

  ! body over [begin, end) in chunks: errgroup_for. The bounds may be
  ! integer(c_int64_t) or default integers, in any mix (`1_c_int64_t, n + 1`).
  integer(c_int) function for_ll(g, begin, end, body, arg)
    type(errgroup_t), target, intent(inout) :: g
    integer(c_int64_t), intent(in) :: begin, end
    procedure(errgroup_range_fn) :: body
    type(c_ptr), intent(in) :: arg
    for_ll = c_for(c_loc(g), begin, end, c_funloc(body), arg)
  end function for_ll

  integer(c_int) function for_li(g, begin, end, body, arg)
    type(errgroup_t), target, intent(inout) :: g
    integer(c_int64_t), intent(in) :: begin
    integer, intent(in) :: end
    procedure(errgroup_range_fn) :: body
    type(c_ptr), intent(in) :: arg
    for_li = c_for(c_loc(g), begin, int(end, c_int64_t), c_funloc(body), arg)
  end function for_li

  integer(c_int) function for_il(g, begin, end, body, arg)
    type(errgroup_t), target, intent(inout) :: g
    integer, intent(in) :: begin
    integer(c_int64_t), intent(in) :: end
    procedure(errgroup_range_fn) :: body
    type(c_ptr), intent(in) :: arg
    for_il = c_for(c_loc(g), int(begin, c_int64_t), end, c_funloc(body), arg)
  end function for_il

  integer(c_int) function for_ii(g, begin, end, body, arg)
    type(errgroup_t), target, intent(inout) :: g
    integer, intent(in) :: begin, end
    procedure(errgroup_range_fn) :: body
    type(c_ptr), intent(in) :: arg
    for_ii = c_for(c_loc(g), int(begin, c_int64_t), int(end, c_int64_t), c_funloc(body), arg)
  end function for_ii

  ! errgroup_fail_str with the message NUL-terminated on the stack.
  integer(c_int) function fail_p(g, code, index, message)
    type(c_ptr), intent(in) :: g
    integer(c_int), intent(in) :: code
    integer(c_int64_t), intent(in) :: index
    character(*), intent(in) :: message
    character(kind=c_char, len=len(message) + 1) :: buf
    buf = message // c_null_char
    fail_p = c_fail_str(g, code, index, buf)
  end function fail_p

  integer(c_int) function fail_t(g, code, index, message)
    type(errgroup_t), target, intent(inout) :: g
    integer(c_int), intent(in) :: code
    integer(c_int64_t), intent(in) :: index
    character(*), intent(in) :: message
    fail_t = fail_p(c_loc(g), code, index, message)
  end function fail_t

  integer(c_int) function fail_p32(g, code, index, message)
    type(c_ptr), intent(in) :: g
    integer(c_int), intent(in) :: code
    integer, intent(in) :: index
    character(*), intent(in) :: message
    fail_p32 = fail_p(g, code, int(index, c_int64_t), message)
  end function fail_p32

  integer(c_int) function fail_t32(g, code, index, message)
    type(errgroup_t), target, intent(inout) :: g
    integer(c_int), intent(in) :: code
    integer, intent(in) :: index
    character(*), intent(in) :: message
    fail_t32 = fail_p(c_loc(g), code, int(index, c_int64_t), message)
  end function fail_t32

  integer(c_int) function cancel_t(g)
    type(errgroup_t), target, intent(inout) :: g
    cancel_t = c_cancel(c_loc(g))
  end function cancel_t

  integer(c_int) function cancel_p(g)
    type(c_ptr), intent(in) :: g
    cancel_p = c_cancel(g)
  end function cancel_p

  ! .true. when errgroup_canceled is nonzero (ERRGROUP_EINVAL included, so a
  ! polling loop over a destroyed group stops).
  logical function canceled_t(g)
    type(errgroup_t), target, intent(inout) :: g
    canceled_t = c_canceled(c_loc(g)) /= 0
  end function canceled_t

  logical function canceled_p(g)
    type(c_ptr), intent(in) :: g
    canceled_p = c_canceled(g) /= 0
  end function canceled_p

  ! Code and index of the first error; message is its text, blank-padded or
  ! truncated to len(message). Returns errgroup_first_error's result.
  integer(c_int) function errgroup_first_error(g, code, index, message)
    type(errgroup_t), target, intent(inout) :: g
    integer(c_int), intent(out) :: code
    integer(c_int64_t), intent(out) :: index
    character(*), intent(out) :: message
    type(c_error_t) :: e
    integer :: k
    message = ''
    errgroup_first_error = c_first_error(c_loc(g), e)
    code = e%code
    index = e%index
    if (errgroup_first_error /= 0) then
      code = 0
      index = ERRGROUP_NO_INDEX
      return
    end if
    do k = 1, min(len(message), ERRGROUP_MESSAGE_MAX)
      if (e%message(k) == c_null_char) exit
      message(k:k) = e%message(k)
    end do
  end function errgroup_first_error

  integer(c_int) function errgroup_set_limit(g, n)
    type(errgroup_t), target, intent(inout) :: g
    integer(c_int), intent(in) :: n
    errgroup_set_limit = c_set_limit(c_loc(g), n)
  end function errgroup_set_limit

  integer(c_int) function errgroup_set_mode(g, mode)
    type(errgroup_t), target, intent(inout) :: g
    integer(c_int), intent(in) :: mode
    errgroup_set_mode = c_set_mode(c_loc(g), mode)
  end function errgroup_set_mode

  ! Whether iteration i of an annotated loop is to be skipped. The relaxed
  ! atomic read suffices for the same reason as ERRGROUP_LOOP_CHECK's: the
  ! word only decides whether to ask errgroup_canceled_at, which does the
  ! ordered reads.
  logical function skip_t(g, i)
    type(errgroup_t), target, intent(in) :: g
    integer(c_int64_t), value :: i
    integer(c_int) :: poll
    !$omp atomic read
    poll = g%poll
    if (iand(poll, POLL_SLOW) == 0) then
      skip_t = .false.
    else
      skip_t = c_canceled_at(c_loc(g), i) /= 0
    end if
  end function skip_t

  logical function skip_t32(g, i)
    type(errgroup_t), target, intent(in) :: g
    integer, value :: i
    integer(c_int) :: poll
    !$omp atomic read
    poll = g%poll
    if (iand(poll, POLL_SLOW) == 0) then
      skip_t32 = .false.
    else
      skip_t32 = c_canceled_at(c_loc(g), int(i, c_int64_t)) /= 0
    end if
  end function skip_t32

  logical function skip_p(g, i)
    type(c_ptr), intent(in) :: g
    integer(c_int64_t), value :: i
    type(errgroup_t), pointer :: v
    call c_f_pointer(g, v)
    skip_p = skip_t(v, i)
  end function skip_p

  logical function skip_p32(g, i)
    type(c_ptr), intent(in) :: g
    integer, value :: i
    type(errgroup_t), pointer :: v
    call c_f_pointer(g, v)
    skip_p32 = skip_t(v, int(i, c_int64_t))
  end function skip_p32

end module errgroup_f
