# Reference CFA fit measures from lavaan for tests/test_cfa.py and tests/test_cfa_reference.py.
#
#   python tests/reference/make_cfa_fixtures.py /tmp/cfa_fixtures
#   Rscript tests/reference/cfa_lavaan.R /tmp/cfa_fixtures > tests/reference/cfa_lavaan.csv
#
# One row per (data set, higher-order model). Each model is fitted as the leaderboard does:
# cfa(model, data, std.lv = TRUE), default ML, listwise deletion, standard fitMeasures.
# status: "ok"; "lv_cor_ge_1" (some latent correlation >= 1, the original's failure rule);
# "not_converged" (lavaan reports non-convergence, so fitMeasures are unavailable);
# "error: <message>" (lavaan stopped, e.g. a zero-variance item).
#
# Stability of lavaan's own verdict: for data sets matching PERM_PATTERN (default: the nine
# pure-noise chunks), each model is refitted on NPERM (default 1) copies of the same data with
# the personas (rows) in another order (seeded; optional arguments 2 and 3). Only the rounding of the sample
# covariance changes (last bits); perm_status lists the verdicts (ok / nc = not converged /
# lv = lv_cor_ge_1 / err), perm_cfi etc. their fit values. stable = 1 when all NPERM + 1
# verdicts agree (NA when not refitted). iterations = nlminb iterations of lavaan's last optimizer attempt.
suppressPackageStartupMessages(library(lavaan))

args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args) > 0) args[1] else "/tmp/cfa_fixtures"
NPERM <- if (length(args) > 1) as.integer(args[2]) else 1L
# refit on permuted rows only for data sets whose name matches (lavaan is slow on noise)
PERM_PATTERN <- if (length(args) > 2) args[3] else "^noise_chunk"

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

fmt <- function(x) if (is.na(x)) "NA" else formatC(x, digits = 10, format = "g")

fit_one <- function(model, data) {
  nw <- 0
  wt <- character(0)
  out <- capture.output(fit <- withCallingHandlers(
    tryCatch(cfa(model, data = data, std.lv = TRUE), error = function(e) e),
    warning = function(w) {
      nw <<- nw + 1
      wt <<- c(wt, conditionMessage(w))
      invokeRestart("muffleWarning")
    }
  ))
  row <- list(status = "ok", chisq = NA, df = NA, cfi = NA, tli = NA, srmr = NA, rmsea = NA,
              bchisq = NA, maxr = NA, minr = NA, iter = NA, nw = nw, wt = wt)
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

cat("dataset,instrument,n,group,status,chisq,df,cfi,tli,srmr,rmsea,baseline_chisq,max_lv_cor,",
    "min_lv_cor,iterations,stable,perm_status,perm_cfi,perm_srmr,perm_rmsea,n_warnings,warnings\n",
    sep = "")
for (path in sort(list.files(dir, pattern = "\\.csv$", full.names = TRUE))) {
  base <- sub("\\.csv$", "", basename(path))
  parts <- strsplit(base, "__")[[1]]
  data <- read.csv(path)
  for (g in names(groups)) {
    model <- syntax_for(keys[[parts[2]]], groups[[g]])
    row <- fit_one(model, data)
    perm <- list()
    set.seed(20240501)
    nperm <- if (grepl(PERM_PATTERN, parts[1])) NPERM else 0L
    for (k in seq_len(nperm)) perm[[k]] <- fit_one(model, data[sample(nrow(data)), ])
    ps <- vapply(perm, function(r) short(r$status), "")
    pf <- function(key) paste(vapply(perm, function(r) fmt(r[[key]]), ""), collapse = ";")
    stable <- if (nperm == 0L) NA else as.integer(all(ps == short(row$status)))
    nobs <- sum(complete.cases(data[, paste0("item", unlist(keys[[parts[2]]][groups[[g]]]))]))
    cat(paste(parts[1], parts[2], nobs, g, row$status, fmt(row$chisq), fmt(row$df), fmt(row$cfi),
              fmt(row$tli), fmt(row$srmr), fmt(row$rmsea), fmt(row$bchisq), fmt(row$maxr),
              fmt(row$minr), fmt(row$iter), stable, paste(ps, collapse = ";"), pf("cfi"),
              pf("srmr"), pf("rmsea"), row$nw,
              gsub("[^A-Za-z0-9 ()._-]", " ", gsub("\\s+", " ", paste(row$wt, collapse = " | "))),
              sep = ","), "\n", sep = "")
    flush(stdout())
  }
}
