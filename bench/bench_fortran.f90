! bench_fortran: what errgroup_skip costs in an annotated `!$omp parallel do`
! against the same raw loop, on scalar per-cell bodies (target <= 1.05x):
!   - Newton's cube root per cell (2^21 cells; as bench_loop.c's scalar case),
!   - a light body: three flops per cell (2^24 cells), where a call per cell
!     shows most.
! Method as in bench_util.h: one warm-up each, variants interleaved in a
! rotated order, median of `reps` repetitions (first argument, default 7).
module bench_fortran_bodies
  use, intrinsic :: iso_c_binding
  use omp_lib
  use errgroup_f
  implicit none
  integer, parameter :: NNEWTON = 2**21, NLIGHT = 2**24
  real(c_double), allocatable :: x(:), y(:)
contains
  pure real(c_double) function newton_cbrt(v)
    real(c_double), intent(in) :: v
    real(c_double) :: c, t, dt
    integer :: k
    c = 1.0_c_double + v
    t = 1.0_c_double
    do k = 1, 50
      dt = (t * t * t - c) / (3.0_c_double * t * t)
      t = t - dt
      if (dt < 1e-13_c_double .and. dt > -1e-13_c_double) exit
    end do
    newton_cbrt = t
  end function newton_cbrt

  real(c_double) function run_variant(which) result(seconds)
    integer, intent(in) :: which
    type(errgroup_t), target :: g
    real(c_double) :: t0
    integer :: i
    if (errgroup_init(g) /= 0) error stop 'init'
    t0 = omp_get_wtime()
    select case (which)
    case (1)
      !$omp parallel do schedule(static)
      do i = 1, NNEWTON
        y(i) = newton_cbrt(x(i))
      end do
      !$omp end parallel do
    case (2)
      !$omp parallel do schedule(static)
      do i = 1, NNEWTON
        if (errgroup_skip(g, i)) cycle
        y(i) = newton_cbrt(x(i))
      end do
      !$omp end parallel do
    case (3)
      !$omp parallel do schedule(static)
      do i = 1, NLIGHT
        y(i) = 1.5_c_double * x(i) * x(i) + 0.5_c_double
      end do
      !$omp end parallel do
    case (4)
      !$omp parallel do schedule(static)
      do i = 1, NLIGHT
        if (errgroup_skip(g, i)) cycle
        y(i) = 1.5_c_double * x(i) * x(i) + 0.5_c_double
      end do
      !$omp end parallel do
    end select
    seconds = omp_get_wtime() - t0
    if (errgroup_wait(g) /= 0) error stop 'wait'
    if (errgroup_destroy(g) /= 0) error stop 'destroy'
  end function run_variant

  real(c_double) function median(v)
    real(c_double), intent(in) :: v(:)
    real(c_double) :: s(size(v)), tmp
    integer :: i, j
    s = v
    do i = 2, size(s)
      tmp = s(i)
      j = i - 1
      do while (j >= 1)
        if (s(j) <= tmp) exit
        s(j + 1) = s(j)
        j = j - 1
      end do
      s(j + 1) = tmp
    end do
    if (mod(size(s), 2) == 1) then
      median = s(size(s) / 2 + 1)
    else
      median = 0.5_c_double * (s(size(s) / 2) + s(size(s) / 2 + 1))
    end if
  end function median
end module bench_fortran_bodies

program bench_fortran
  use bench_fortran_bodies
  implicit none
  integer :: reps, r, j, k, i
  character(len=16) :: arg
  real(c_double), allocatable :: t(:, :)
  real(c_double) :: m(4), dummy
  character(len=48), parameter :: names(4) = [character(len=48) :: &
    'Newton cbrt 2^21: raw `parallel do` (baseline)', 'Newton cbrt 2^21: errgroup_skip annotated', &
    'light 2^24: raw `parallel do` (baseline)', 'light 2^24: errgroup_skip annotated']

  reps = 7
  if (command_argument_count() >= 1) then
    call get_command_argument(1, arg)
    read (arg, *) reps
  end if
  reps = max(1, min(reps, 101))
  allocate(x(NLIGHT), y(NLIGHT), t(4, reps))
  do i = 1, NLIGHT
    x(i) = real(mod(i, 4096), c_double) * 0.37_c_double
  end do
  do k = 1, 4
    dummy = run_variant(k)
  end do
  do r = 1, reps
    do j = 0, 3
      k = mod(j + r, 4) + 1
      t(k, r) = run_variant(k)
    end do
  end do
  do k = 1, 4
    m(k) = median(t(k, :))
  end do
  print '(a)', '## bench_fortran: errgroup_skip against a raw parallel do'
  print '(a)', ''
  print '(a,i0,a,i0,a)', '- threads: ', omp_get_max_threads(), ', median of ', reps, &
    ' repetitions, variants interleaved, one warm-up each'
  print '(a)', ''
  print '(a)', '| variant | median | ratio to raw (target <= 1.05) |'
  print '(a)', '| --- | ---: | ---: |'
  do k = 1, 4
    print '(3a,f0.2,a,f0.3,a)', '| ', trim(names(k)), ' | ', m(k) * 1e3_c_double, ' ms | ', &
      m(k) / m(k - mod(k + 1, 2)), ' |'
  end do
  if (y(1) < 0) print *, y(1) ! keep the results live
end program bench_fortran
