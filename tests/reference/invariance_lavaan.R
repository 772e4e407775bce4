# Reference multi-group fits for tests/test_invariance.py: lavaan's configural, metric
# (group.equal = "loadings") and scalar (+ "intercepts") models of the four magnifying-glass
# CFA models over the contexts of invariance_fixture.csv (make_invariance_fixtures.py), and
# the single-group loadings behind McDonald's omega. Models: invariance_models.json (our
# cfa_syntax, the same strings the analysis fits).
#
#   Rscript tests/reference/invariance_lavaan.R   # writes invariance_lavaan.csv, omega_lavaan.csv
suppressPackageStartupMessages(library(lavaan))
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
d <- read.csv(file.path(here, "invariance_fixture.csv"))
txt <- paste(readLines(file.path(here, "invariance_models.json")), collapse = "")
groups <- c("conservation", "openness_to_change", "self_transcendence", "self_enhancement")
model_of <- function(g) {  # the JSON string of group g (no JSON package needed)
  m <- regmatches(txt, regexpr(paste0('"', g, '": "[^"]*"'), txt))
  gsub("\\\\n", "\n", sub(paste0('"', g, '": "'), "", sub('"$', "", m)))
}
levels <- list(configural = "none", metric = "loadings",
               scalar = c("loadings", "intercepts"))
out <- NULL
omega <- NULL
for (s in unique(d$set)) {
  ds <- d[d$set == s, ]
  for (g in groups) {
    for (lv in names(levels)) {
      fit <- cfa(model_of(g), data = ds, group = "chunk", std.lv = TRUE,
                 group.equal = levels[[lv]])
      ok <- lavInspect(fit, "converged")
      fm <- if (ok) fitMeasures(fit, c("chisq", "df", "cfi", "rmsea")) else rep(NA, 4)
      out <- rbind(out, data.frame(set = s, group = g, level = lv, converged = ok,
                                   chi2 = fm[1], df = fm[2], cfi = fm[3], rmsea = fm[4]))
    }
    if (s == "invariant") {  # omega per value, context c0, from the single-group loadings
      fit <- cfa(model_of(g), data = ds[ds$chunk == "c0", ], std.lv = TRUE)
      pe <- parameterEstimates(fit)
      for (f in unique(pe$lhs[pe$op == "=~"])) {
        items <- pe$rhs[pe$op == "=~" & pe$lhs == f]
        l <- sum(pe$est[pe$op == "=~" & pe$lhs == f])
        th <- sum(pe$est[pe$op == "~~" & pe$lhs %in% items & pe$lhs == pe$rhs])
        omega <- rbind(omega, data.frame(group = g, factor = f, omega = l^2 / (l^2 + th)))
      }
    }
  }
}
write.csv(out, file.path(here, "invariance_lavaan.csv"), row.names = FALSE)
write.csv(omega, file.path(here, "omega_lavaan.csv"), row.names = FALSE)
cat(sprintf("lavaan %s: %d fits, %d omegas\n", packageVersion("lavaan"), nrow(out), nrow(omega)))
