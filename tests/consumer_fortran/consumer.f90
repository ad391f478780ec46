! Uses the installed Fortran module: cell 3000 of an annotated parallel do
! fails and must be reported; the program must be compiled with OpenMP.
program consumer_fortran
  use, intrinsic :: iso_c_binding
  use errgroup_f
  implicit none
  type(errgroup_t), target :: g
  integer(c_int) :: rc, code
  integer(c_int64_t) :: index
  character(len=ERRGROUP_MESSAGE_MAX) :: message
  logical :: openmp
  integer :: i

  openmp = .false.
  !$ openmp = .true.
  if (.not. openmp) error stop 'compiled without OpenMP'
  if (errgroup_init(g) /= 0) error stop 'init'
  if (errgroup_set_mode(g, ERRGROUP_MODE_LOWEST_INDEX) /= 0) error stop 'set_mode'
  !$omp parallel do private(rc)
  do i = 1, 10000
    if (errgroup_skip(g, i)) cycle
    if (i == 3000) rc = errgroup_fail(g, 5_c_int, i, 'cell did not converge')
  end do
  !$omp end parallel do
  rc = errgroup_wait(g)
  if (errgroup_first_error(g, code, index, message) /= 0) error stop 'first_error'
  if (errgroup_destroy(g) /= 0) error stop 'destroy'
  print '(a,i0,a,i0,2a)', 'errgroup (Fortran): rc=', rc, ' index=', index, ' message=', trim(message)
  if (rc /= 5 .or. index /= 3000) error stop 1
end program consumer_fortran
