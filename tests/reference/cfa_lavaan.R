# Reference CFA verdicts and fit measures from lavaan, with the stability of each verdict.
#
#   python tests/reference/make_cfa_fixtures.py /tmp/cfa_fixtures
#   Rscript tests/reference/cfa_lavaan.R /tmp/cfa_fixtures OUT.csv [PATTERN] [FULL] [NPERM] [NPERT] [PRIOR] [MAXITER] [ONLY]
#
# (tests/reference/cfa_lavaan_batches.sh runs it in bounded batches; make_cfa_fixtures.py --join
# joins the parts into tests/reference/cfa_lavaan.csv.) Measured with R 4.2.2 and lavaan 0.6-14
# (Debian r-cran-lavaan 0.6.14-1).
#
# One row per (data set, higher-order model) for the data sets whose name matches PATTERN (regex,
# default: all). Each model is fitted as the leaderboard does: cfa(model, data, std.lv = TRUE),
# default ML, listwise deletion, standard fitMeasures.
#   status: "ok"; "lv_cor_ge_1" (a latent correlation >= 1, the original's failure rule);
#   "not_converged" (lavaan reports non-convergence, so fitMeasures are unavailable);
#   "error: <message>" (lavaan stopped, e.g. on a zero-variance item).
#   attempts: lavaan's optimizer attempts on the file-order data, ";"-separated, each
#     "iterations/PORT code/converged" (PORT code 3-6 = nlminb converged, 7 singular, 8 false
#     convergence, 9 evaluation limit, 10 iteration limit; converged = 0 where lavaan rejected
#     the attempt, also for a gradient element above optim.dx.tol).
#   iterations: nlminb iterations of the last attempt (lavInspect(fit, "iterations")).
#
# Stability of the verdict: each model is refitted on variants of the same answers that change
# only the rounding of the sample covariance:
#   pert_*: NPERT (default 10) copies with every answer multiplied by (1 + 1e-15 u), u uniform on
#     [-1, 1] (seeded per variant);
#   perm_*: NPERM (default 30) copies with the personas (rows) in another order (seeded). Where a
#     permutation leaves lavaan's sample covariance and means bit-identical to the file order or
#     an earlier permutation, the verdict of that identical input is reused (lavaan's fit is a
#     function of them); perm_distinct_s counts the distinct inputs fitted.
# Verdicts are written as ok / nc (not converged) / lv (latent r >= 1) / err, fit values
# ";"-separated in variant order. stable = 1 when all variants agree with the file-order verdict.
# For data sets not matching FULL (regex, default: all) the variants stop at the first
# disagreement (the verdict is then known to be unstable); variants_done says how many ran.
# PRIOR (optional): an output of an earlier run (e.g. with NPERM = NPERT = 0) whose file-order
# fits are reused instead of refitted.
# MAXITER (optional): no variants for a fit whose file-order run took more nlminb iterations than
# this (a crawl; its 40 variants can take lavaan an hour), variants_done 0.
# ONLY (optional): fit only the (data set, model) pairs whose "dataset group" matches this regex.
suppressPackageStartupMessages(library(lavaan))

args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args) > 0) args[1] else "/tmp/cfa_fixtures"
out_path <- if (length(args) > 1) args[2] else ""
PATTERN <- if (length(args) > 2) args[3] else "."
FULL <- if (length(args) > 3) args[4] else "."
NPERM <- if (length(args) > 4) as.integer(args[5]) else 30L
NPERT <- if (length(args) > 5) as.integer(args[6]) else 10L
PRIOR <- if (length(args) > 6 && file.exists(args[7])) {
  read.csv(args[7], colClasses = "character")
} else NULL
MAXITER <- if (length(args) > 7) as.numeric(args[8]) else Inf
ONLY <- if (length(args) > 8) args[9] else "."

keys <- list(
  pvq40 = list(
    SD = c(1, 11, 22, 34), ST = c(6, 15, 30), HE = c(10, 26, 37), AC = c(4, 13, 24, 32),
    PO = c(2, 17, 39), SE = c(5, 14, 21, 31, 35), CO = c(7, 16, 28, 36), TR = c(9, 20, 25, 38),
    BE = c(12, 18, 27, 33), UN = c(3, 8, 19, 23, 29, 40)
  ),
  svs57 = list(
    SD = c(5, 16, 31, 41, 53), ST = c(9, 25, 37), HE = c(4, 50, 57), AC = c(34, 39, 43, 55),
    PO = c(3, 12, 27, 46), SE = c(8, 13, 15, 22, 56), CO = c(11, 20, 40, 47),
    TR = c(18, 32, 36, 44, 51), BE = c(33, 45, 49, 52, 54),
    UN = c(1, 17, 24, 26, 29, 30, 35, 38)
  )
)
groups <- list(
  conservation = c("SE", "CO", "TR"),
  openness_to_change = c("SD", "ST", "HE"),
  self_transcendence = c("BE", "UN"),
  self_enhancement = c("AC", "PO")
)

syntax_for <- function(key, factors) {
  lines <- sapply(factors, function(f) {
    paste0(f, " =~ ", paste0("item", key[[f]], collapse = " + "))
  })
  paste(lines, collapse = "\n")
}

fmt <- function(x) {
  if (is.null(x) || is.na(x)) "NA" else trimws(formatC(x, digits = 10, format = "g"))
}

# Record every optimizer attempt: nlminb's own return code, then lavaan's verdict on it.
TRACE <- new.env()
TRACE$log <- list()
invisible(trace("nlminb", exit = quote({
  TRACE$log[[length(TRACE$log) + 1]] <- list(
    kind = "nlminb", npar = length(returnValue()$par), msg = returnValue()$message
  )
}), print = FALSE, where = asNamespace("lavaan")))
invisible(trace("lav_model_estimate", exit = quote({
  TRACE$log[[length(TRACE$log) + 1]] <- list(
    kind = "estimate", npar = length(returnValue()),
    it = attr(returnValue(), "iterations"), conv = attr(returnValue(), "converged")
  )
}), print = FALSE, where = asNamespace("lavaan")))

attempt_string <- function(npar) {
  out <- character(0)
  code <- NA
  for (e in TRACE$log) {
    if (e$npar != npar) next  # the baseline model's fit
    if (e$kind == "nlminb") {
      code <- suppressWarnings(as.integer(sub(".*\\(([0-9]+)\\)$", "\\1", e$msg)))
    } else {
      out <- c(out, paste(e$it, code, as.integer(e$conv), sep = "/"))
      code <- NA
    }
  }
  paste(out, collapse = ";")
}

fit_one <- function(model, data, npar) {
  nw <- 0
  wt <- character(0)
  TRACE$log <- list()
  t0 <- proc.time()[["elapsed"]]
  out <- capture.output(fit <- withCallingHandlers(
    tryCatch(cfa(model, data = data, std.lv = TRUE), error = function(e) e),
    warning = function(w) {
      nw <<- nw + 1
      wt <<- c(wt, conditionMessage(w))
      invokeRestart("muffleWarning")
    }
  ))
  row <- list(status = "ok", chisq = NA, df = NA, cfi = NA, tli = NA, srmr = NA, rmsea = NA,
              bchisq = NA, maxr = NA, minr = NA, iter = NA, nw = nw, wt = wt,
              attempts = attempt_string(npar), seconds = proc.time()[["elapsed"]] - t0)
  if (inherits(fit, "error")) {
    row$status <- paste0("error: ", gsub("[,\n]", " ", conditionMessage(fit)))
    return(row)
  }
  row$iter <- lavInspect(fit, "iterations")
  if (!lavInspect(fit, "converged")) {
    row$status <- "not_converged"
    return(row)
  }
  lv <- lavInspect(fit, "cov.lv")
  off <- lv[lower.tri(lv)]
  row$maxr <- max(off)
  row$minr <- min(off)
  fm <- fitMeasures(fit, c("chisq", "df", "cfi", "tli", "srmr", "rmsea", "baseline.chisq"))
  row$chisq <- fm[["chisq"]]; row$df <- fm[["df"]]; row$cfi <- fm[["cfi"]]
  row$tli <- fm[["tli"]]; row$srmr <- fm[["srmr"]]; row$rmsea <- fm[["rmsea"]]
  row$bchisq <- fm[["baseline.chisq"]]
  if (any(off >= 1)) row$status <- "lv_cor_ge_1"
  row
}

short <- function(status) {
  if (status == "ok") "ok" else if (status == "not_converged") "nc"
  else if (status == "lv_cor_ge_1") "lv" else "err"
}

# lavaan's sample covariance and means, bit for bit, as a string (the fit depends on nothing else)
input_key <- function(model, data) {
  f <- tryCatch(cfa(model, data = data, std.lv = TRUE, do.fit = FALSE), error = function(e) NULL)
  if (is.null(f)) return(NA_character_)
  s <- lavInspect(f, "sampstat")
  paste(c(sprintf("%a", s$cov), sprintf("%a", colMeans(data[, rownames(s$cov)]))), collapse = ",")
}

header <- c("dataset", "instrument", "n", "group", "status", "chisq", "df", "cfi", "tli", "srmr",
            "rmsea", "baseline_chisq", "max_lv_cor", "min_lv_cor", "iterations", "attempts",
            "seconds", "stable", "variants_done", "pert_status", "pert_cfi", "pert_srmr",
            "pert_rmsea", "pert_iterations", "perm_status", "perm_cfi", "perm_srmr", "perm_rmsea",
            "perm_iterations", "perm_distinct_s", "n_warnings", "warnings")
done <- character(0)
if (nzchar(out_path) && file.exists(out_path)) {
  prev <- read.csv(out_path, stringsAsFactors = FALSE)
  done <- paste(prev$dataset, prev$group)
} else if (nzchar(out_path)) {
  cat(paste(header, collapse = ","), "\n", sep = "", file = out_path)
}
emit <- function(line) {
  if (nzchar(out_path)) cat(line, "\n", sep = "", file = out_path, append = TRUE)
  else cat(line, "\n", sep = "")
}

for (path in sort(list.files(dir, pattern = "\\.csv$", full.names = TRUE))) {
  base <- sub("\\.csv$", "", basename(path))
  parts <- strsplit(base, "__")[[1]]
  if (!grepl(PATTERN, parts[1])) next
  data <- read.csv(path)
  full <- grepl(FULL, parts[1])
  for (g in names(groups)) {
    if (paste(parts[1], g) %in% done || !grepl(ONLY, paste(parts[1], g))) next
    model <- syntax_for(keys[[parts[2]]], groups[[g]])
    items <- paste0("item", unlist(keys[[parts[2]]][groups[[g]]]))
    npar <- 2L * length(items) + length(groups[[g]]) * (length(groups[[g]]) - 1L) / 2L
    prior <- if (is.null(PRIOR)) integer(0) else which(PRIOR$dataset == parts[1] & PRIOR$group == g)
    if (length(prior) == 1) {
      p <- PRIOR[prior, ]
      num <- function(v) suppressWarnings(as.numeric(v))
      row <- list(status = p$status, chisq = num(p$chisq), df = num(p$df), cfi = num(p$cfi),
                  tli = num(p$tli), srmr = num(p$srmr), rmsea = num(p$rmsea),
                  bchisq = num(p$baseline_chisq), maxr = num(p$max_lv_cor),
                  minr = num(p$min_lv_cor), iter = num(p$iterations),
                  nw = as.integer(p$n_warnings), wt = p$warnings, attempts = p$attempts,
                  seconds = num(p$seconds))
    } else {
      row <- fit_one(model, data, npar)
    }
    verdict <- short(row$status)
    agree <- TRUE
    if (!is.na(row$iter) && row$iter > MAXITER) {  # a crawl: file order only
      NPERT_ROW <- 0L; NPERM_ROW <- 0L
    } else {
      NPERT_ROW <- NPERT; NPERM_ROW <- NPERM
    }
    # perturbations of 1e-15 (relative) of every answer
    pert <- list()
    for (k in seq_len(NPERT_ROW)) {
      if (!agree && !full) break
      set.seed(1000L + k)
      u <- matrix(runif(nrow(data) * ncol(data), -1, 1), nrow(data))
      pert[[k]] <- fit_one(model, data * (1 + 1e-15 * u), npar)
      agree <- agree && short(pert[[k]]$status) == verdict
    }
    # row permutations; identical sample statistics reuse the verdict of that input
    seen <- list()
    key0 <- input_key(model, data)
    if (!is.na(key0)) seen[[key0]] <- row
    perm <- list()
    set.seed(20240501L)
    orders <- lapply(seq_len(NPERM), function(k) sample(nrow(data)))
    for (k in seq_len(NPERM_ROW)) {
      if (!agree && !full) break
      d_k <- data[orders[[k]], ]
      key <- input_key(model, d_k)
      if (!is.na(key) && !is.null(seen[[key]])) {
        perm[[k]] <- seen[[key]]
      } else {
        perm[[k]] <- fit_one(model, d_k, npar)
        if (!is.na(key)) seen[[key]] <- perm[[k]]
      }
      agree <- agree && short(perm[[k]]$status) == verdict
    }
    vs <- function(lst) paste(vapply(lst, function(r) short(r$status), ""), collapse = ";")
    vf <- function(lst, key) paste(vapply(lst, function(r) fmt(r[[key]]), ""), collapse = ";")
    nobs <- sum(complete.cases(data[, items]))
    emit(paste(parts[1], parts[2], nobs, g, row$status, fmt(row$chisq), fmt(row$df),
               fmt(row$cfi), fmt(row$tli), fmt(row$srmr), fmt(row$rmsea), fmt(row$bchisq),
               fmt(row$maxr), fmt(row$minr), fmt(row$iter), row$attempts,
               sprintf("%.2f", row$seconds), as.integer(agree), length(pert) + length(perm),
               vs(pert), vf(pert, "cfi"), vf(pert, "srmr"), vf(pert, "rmsea"),
               vf(pert, "iter"), vs(perm), vf(perm, "cfi"), vf(perm, "srmr"), vf(perm, "rmsea"),
               vf(perm, "iter"), max(length(seen), 1L), row$nw,
               gsub("[^A-Za-z0-9 ()._-]", " ", gsub("\\s+", " ", paste(row$wt, collapse = " | "))),
               sep = ","))
  }
}
