# Reference longitudinal fits for tests/test_longitudinal.py: lavaan's configural, metric and
# scalar models of the four magnifying-glass CFA models over the three contexts of
# longitudinal_fixture.csv (make_longitudinal_fixtures.py), the same 150 personas answering in
# every context (post.check: whether the solution is proper). One group; indicators item<i>_<context>, factors <code>_<context>. Written
# here from the item map (invariance_models.json), independently of the Python spec builder:
#   configural: loadings and intercepts free per context, factor variances 1, means 0;
#   metric: loadings labelled per item (equal across contexts), variances free beyond c0;
#   scalar: intercepts labelled per item too, latent means free beyond c0;
#   every level: factor covariances free (cfa's default), item_c0 ~~ item_c1 etc. free.
#
#   Rscript tests/reference/longitudinal_lavaan.R   # writes longitudinal_lavaan.csv
suppressPackageStartupMessages(library(lavaan))
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
d <- read.csv(file.path(here, "longitudinal_fixture.csv"))
txt <- paste(readLines(file.path(here, "invariance_models.json")), collapse = "")
groups <- c("conservation", "openness_to_change", "self_transcendence", "self_enhancement")
factors_of <- function(g) {  # list factor code -> item names of group g
  m <- regmatches(txt, regexpr(paste0('"', g, '": "[^"]*"'), txt))
  lines <- strsplit(sub('"$', "", sub(paste0('"', g, '": "'), "", m)), "\\\\n")[[1]]
  out <- list()
  for (l in lines) {
    parts <- strsplit(l, " =~ ")[[1]]
    out[[trimws(parts[1])]] <- trimws(strsplit(parts[2], "\\+")[[1]])
  }
  out
}
syntax <- function(g, contexts, level) {
  fs <- factors_of(g)
  out <- character(0)
  for (k in seq_along(contexts)) {
    t <- contexts[k]
    for (f in names(fs)) {
      its <- paste0(fs[[f]], "_", t)
      lab <- if (level != "configural") paste0("l_", fs[[f]], "*") else ""
      out <- c(out, paste0(f, "_", t, " =~ NA*", its[1], " + ",
                           paste0(lab, its, collapse = " + ")))
      out <- c(out, paste0(f, "_", t, " ~~ ", if (k == 1 || level == "configural") "1*" else "",
                           f, "_", t))
      out <- c(out, paste0(f, "_", t, " ~ ", if (k == 1 || level != "scalar") "0*" else "", "1"))
      lab_i <- if (level == "scalar") paste0("i_", fs[[f]], "*") else ""
      out <- c(out, paste0(its, " ~ ", lab_i, "1"))
    }
  }
  items <- unlist(fs)
  for (i in items) for (a in seq_along(contexts)) for (b in seq_along(contexts)) {
    if (a < b) out <- c(out, paste0(i, "_", contexts[a], " ~~ ", i, "_", contexts[b]))
  }
  paste(out, collapse = "\n")
}
out <- NULL
for (s in unique(d$set)) {
  ds <- d[d$set == s, ]
  contexts <- unique(ds$chunk)
  wide <- NULL
  for (t in contexts) {
    x <- ds[ds$chunk == t, c("persona", grep("^item", names(ds), value = TRUE))]
    names(x)[-1] <- paste0(names(x)[-1], "_", t)
    wide <- if (is.null(wide)) x else merge(wide, x, by = "persona")
  }
  for (g in groups) {
    for (lv in c("configural", "metric", "scalar")) {
      t0 <- proc.time()[["elapsed"]]
      fit <- tryCatch(cfa(syntax(g, contexts, lv), data = wide, meanstructure = TRUE),
                      error = function(e) NULL)
      secs <- proc.time()[["elapsed"]] - t0
      ok <- !is.null(fit) && lavInspect(fit, "converged")
      fm <- if (ok) fitMeasures(fit, c("chisq", "df", "cfi", "rmsea", "baseline.chisq",
                                       "baseline.df", "npar")) else rep(NA, 7)
      # post.check: an admissible solution (no negative variance, latent and residual
      # covariance matrices positive definite); near-random answers give improper ones
      proper <- ok && suppressWarnings(lavInspect(fit, "post.check"))
      out <- rbind(out, data.frame(set = s, group = g, level = lv, converged = ok,
                                   proper = proper,
                                   chi2 = fm[1], df = fm[2], cfi = fm[3], rmsea = fm[4],
                                   baseline_chi2 = fm[5], baseline_df = fm[6], npar = fm[7],
                                   seconds = round(secs, 2)))
      cat(s, g, lv, ok, proper, fm[3], fm[4], secs, "\n")
    }
  }
}
write.csv(out, file.path(here, "longitudinal_lavaan.csv"), row.names = FALSE)
cat(sprintf("lavaan %s: %d fits\n", packageVersion("lavaan"), nrow(out)))
