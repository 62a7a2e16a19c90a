// Everything graph/ offers, in one include.
#pragma once

#include "graph/capture.h"
#include "graph/compile.h"
#include "graph/executable.h"
#include "graph/fusion.h"
#include "graph/ir.h"
