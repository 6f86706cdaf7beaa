// daemon/web_assets.h
//
// The dashboard's files (daemon/web/), compiled into esd by CMake
// (daemon/web/embed.cmake writes web_assets.cc from them): esd serves them
// with nothing installed beside it.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace esd {

struct WebAsset {
  std::string path;       // as served: "/index.html", "/app.js"
  std::string type;       // its Content-Type
  std::string_view body;  // static: the bytes live as long as the program
};

std::span<const WebAsset> web_assets();

}  // namespace esd
