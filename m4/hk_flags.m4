# hk_flags.m4 - small helpers for hakmem's configure.ac.

# HK_ADD_CFLAG(VARIABLE, FLAG)
# ----------------------------
# Append FLAG to the shell VARIABLE when the C compiler accepts it
# (together with -Werror, so that "unknown option" warnings count).
AC_DEFUN([HK_ADD_CFLAG],
[AS_VAR_PUSHDEF([hk_cache], [hk_cv_cflag_$2])dnl
AC_CACHE_CHECK([whether $CC accepts $2], [hk_cache],
  [hk_save_CFLAGS=$CFLAGS
   CFLAGS="$CFLAGS -Werror $2"
   AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
     [AS_VAR_SET([hk_cache], [yes])],
     [AS_VAR_SET([hk_cache], [no])])
   CFLAGS=$hk_save_CFLAGS])
AS_VAR_IF([hk_cache], [yes], [$1="${$1:+$$1 }$2"])
AS_VAR_POPDEF([hk_cache])dnl
])
