! cells_fortran: a per-cell solver over an array in an existing
! `!$omp parallel do`, made error-aware with errgroup_skip / errgroup_fail.
! Each cell solves x**3 = c(i) by Newton's method; two cells cannot converge
! (c = NaN, a broken input, and c = 0, a triple root). The run stops at the
! first bad cell and names it: lowest-index mode makes that cell 70000
! whatever the thread count.
!
!   cells_fortran          reports cell 70000, exit status 1
!   cells_fortran --clean  no bad cells: exit status 0
program cells_fortran
  use, intrinsic :: iso_c_binding
  use, intrinsic :: ieee_arithmetic, only: ieee_value, ieee_quiet_nan
  use errgroup_f
  implicit none
  integer, parameter :: ncells = 2**18, max_iter = 50
  type(errgroup_t), target :: g
  real(c_double), allocatable :: c(:), x(:)
  character(len=ERRGROUP_MESSAGE_MAX) :: message
  character(len=16) :: arg
  integer(c_int) :: rc, code
  integer(c_int64_t) :: index
  integer :: i
  logical :: clean

  clean = .false.
  if (command_argument_count() == 1) then
    call get_command_argument(1, arg)
    clean = arg == '--clean'
    if (.not. clean) error stop 'usage: cells_fortran [--clean]'
  end if
  allocate(c(ncells), x(ncells))
  do i = 1, ncells
    c(i) = 0.5_c_double + real(mod(i, 1000), c_double)
  end do
  if (.not. clean) then
    c(70000) = ieee_value(c(1), ieee_quiet_nan)
    c(200000) = 0.0_c_double
  end if

  if (errgroup_init(g) /= 0) error stop 'errgroup_init failed'
  if (errgroup_set_mode(g, ERRGROUP_MODE_LOWEST_INDEX) /= 0) error stop 'errgroup_set_mode failed'
  !$omp parallel do schedule(dynamic, 256) private(rc)
  do i = 1, ncells
    if (errgroup_skip(g, i)) cycle
    if (.not. cube_root(c(i), x(i))) rc = errgroup_fail(g, 1_c_int, i, 'cell did not converge')
  end do
  !$omp end parallel do
  rc = errgroup_wait(g)
  if (errgroup_first_error(g, code, index, message) /= 0) error stop 'errgroup_first_error failed'
  if (errgroup_destroy(g) /= 0) error stop 'errgroup_destroy failed'
  if (rc /= 0) then
    deallocate(c, x)
    print '(a,i0,2a)', 'cells_fortran: cell ', index, ': ', trim(message)
    error stop 1
  end if
  print '(i0,a,f0.6)', ncells, ' cells solved; x(1000) = ', x(1000)
  deallocate(c, x)

contains

  ! x**3 = c from x = 1; .false. if not converged in max_iter steps.
  logical function cube_root(cv, root)
    real(c_double), intent(in) :: cv
    real(c_double), intent(out) :: root
    real(c_double) :: xv, dx
    integer :: k
    xv = 1.0_c_double
    root = 0.0_c_double
    cube_root = .false.
    do k = 1, max_iter
      if (.not. (abs(xv) <= huge(xv))) return ! NaN or infinite
      dx = (xv * xv * xv - cv) / (3.0_c_double * xv * xv)
      xv = xv - dx
      if (abs(dx) <= 1e-14_c_double * abs(xv)) then
        root = xv
        cube_root = .true.
        return
      end if
    end do
  end function cube_root
end program cells_fortran
